/**
 * The four shipped definitions: they load with no findings, and their key facts match
 * ../shared/vendors.md. A change to a definition that breaks a documented fact fails here.
 */
import * as Either from "effect/Either"
import { describe, expect, it } from "vitest"
import { resolveBaseUrl } from "../core/base-url.ts"
import type { ConnectorDefinition } from "../core/definition.ts"
import { formatProblem } from "../core/load.ts"
import { loadConnectorDirNow } from "../runner/catalog/load-now.ts"

const results = loadConnectorDirNow()
const byId = new Map(results.flatMap((r) => (r.definition ? [[r.definition.id, r.definition] as const] : [])))
const get = (id: string): ConnectorDefinition => {
  const definition = byId.get(id)
  if (!definition) throw new Error(`${id} did not load`)
  return definition
}
const baseUrl = (id: string, settings: Record<string, string> = {}): string => {
  const resolved = resolveBaseUrl(get(id), settings)
  return Either.isRight(resolved) ? resolved.right.href : `rejected: ${resolved.left.detail}`
}
const headerNames = (definition: ConnectorDefinition): string[] =>
  definition.auth.flatMap((p) => (p.in === "header" ? [p.name] : []))
const outcomeOf = (definition: ConnectorDefinition, status: number): string[] =>
  definition.errors.rules.filter((r) => r.status === status).map((r) => r.outcome)

describe("the shipped definitions", () => {
  it("are exactly the four vendors, and load with no findings at all", () => {
    expect(results.map((r) => r.file.replace(/^.*\//, ""))).toEqual([
      "activityinfo.yaml",
      "activtrak.yaml",
      "peopletray.yaml",
      "trackvia.yaml",
    ])
    expect(results.flatMap((r) => r.problems).map(formatProblem)).toEqual([])
  })

  it("ActivTrak: x-api-key, regional hosts, the working-hours test, 403 means plan or role", () => {
    const activtrak = get("activtrak")
    expect(headerNames(activtrak)).toEqual(["x-api-key"])
    expect(baseUrl("activtrak")).toBe("https://api.activtrak.com/")
    expect(baseUrl("activtrak", { region: "eu" })).toBe("https://api-eu.activtrak.com/")
    expect(baseUrl("activtrak", { region: "au" })).toBe("https://api-au.activtrak.com/")
    expect(activtrak.test.requests[0]?.path).toBe("/reports/v2/workinghours/users")
    expect(activtrak.test.requests[0]?.query).toMatchObject({ pageSize: "1" })
    expect(outcomeOf(activtrak, 401)).toEqual(["invalid_credentials"])
    // 403 is the plan or the role (M): the vendor's message tells them apart, and a 403 naming neither is the plan.
    expect(outcomeOf(activtrak, 403)).toEqual(["plan_not_eligible", "insufficient_permissions", "plan_not_eligible"])
    expect(activtrak.errors.rules.find((r) => r.status === 403)?.remediation).toMatch(/Advanced Insights/)
    const scim = activtrak.credentials.find((c) => c.key === "scimToken")
    expect(scim).toMatchObject({ secret: true, required: false })
    expect(activtrak.test.probes?.map((p) => p.path)).toEqual(["/scim/v1/ping"])
  })

  it("ActivityInfo: Bearer token, self-managed server URL, token-scope probe, coded errors", () => {
    const activityinfo = get("activityinfo")
    expect(activityinfo.auth).toEqual([
      { in: "header", name: "Authorization", value: "Bearer ${credentials.apiToken}" },
    ])
    expect(baseUrl("activityinfo")).toBe("https://www.activityinfo.org/")
    expect(baseUrl("activityinfo", { serverUrl: "https://ai.example.org" })).toBe("https://ai.example.org/")
    expect(baseUrl("activityinfo", { serverUrl: "https://127.0.0.1:8443" })).toMatch(
      /^rejected: .*loopback, private or special-purpose/,
    )
    expect(baseUrl("activityinfo", { serverUrl: "http://ai.example.org" })).toMatch(/^rejected: .*not https/)
    expect(activityinfo.test.requests[0]?.path).toBe("/resources/databases")
    expect(activityinfo.test.probes?.map((p) => p.path)).toEqual(["/resources/accounts/tokens"])
    expect(activityinfo.errors.rules[0]).toMatchObject({
      status: 401,
      json: { path: "code", equals: "AUTHENTICATION_REQUIRED" },
      outcome: "invalid_credentials",
    })
    expect(outcomeOf(activityinfo, 410)).toEqual(["not_found"])
  })

  it("PeopleTray: X-API-Key, one host, the people feed, a one-year expiry, all 401s alike", () => {
    const peopletray = get("peopletray")
    expect(headerNames(peopletray)).toEqual(["X-API-Key"])
    expect(baseUrl("peopletray")).toBe("https://api.peopletray.com/")
    expect(peopletray.test.requests[0]?.path).toBe("/api/v2/powerbi/people")
    expect(peopletray.credentials[0]?.expires?.afterDays).toBe(365)
    expect(outcomeOf(peopletray, 401)).toEqual(["invalid_credentials"])
    expect(peopletray.errors.rules[0]?.message).toMatch(/IP address/)
  })

  it("TrackVia: user_key in the query with its reason, Bearer token, subdomains, expired tokens", () => {
    const trackvia = get("trackvia")
    expect(trackvia.auth[0]).toMatchObject({ in: "query", name: "user_key", value: "${credentials.apiKey}" })
    expect(trackvia.auth[0]?.in === "query" && trackvia.auth[0].reason).toMatch(/query parameter/)
    expect(headerNames(trackvia)).toEqual(["Authorization"])
    expect(baseUrl("trackvia")).toBe("https://go.trackvia.com/")
    expect(baseUrl("trackvia", { subdomain: "acme" })).toBe("https://acme.trackvia.com/")
    expect(baseUrl("trackvia", { subdomain: "evil.com/x" })).toMatch(/^rejected: /)
    expect(trackvia.test.requests[0]?.path).toBe("/openapi/views")
    expect(outcomeOf(trackvia, 401)).toEqual([
      "expired_credentials",
      "invalid_credentials",
      "invalid_credentials",
      "not_found",
      "invalid_credentials",
    ])
    expect(trackvia.errors.rules[0]?.json).toEqual({ path: "error_description", contains: "expired" })
    expect(trackvia.credentials.map((c) => c.key)).toEqual(["apiKey", "authToken"])
    expect(trackvia.credentials[1]?.expires?.dateEntered).toBe(true)
  })
})
