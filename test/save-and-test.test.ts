/**
 * Save & test's check against the sandbox over real sockets: every connector crossed with every
 * scenario gives the expected outcome, message and attempt count.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { findDefinition } from "../runner/catalog/catalog.ts"
import { type CheckResult, testCredentials } from "../runner/check/check.ts"
import { buildRequest } from "../runner/http/request.ts"
import { createKeyway, InvalidInput, type Keyway, UnknownConnector } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { checkServices } from "./support/services.ts"
import { fastForward } from "./support/virtual-time.ts"

let sandbox: Sandbox
let keyway: Keyway
let redirectTarget: { url: string; hits: number; close: () => void }

beforeAll(async () => {
  const hits = { count: 0 }
  const server = createServer((_req, res) => {
    hits.count++
    res.end("captured")
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  redirectTarget = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/collect`,
    get hits() {
      return hits.count
    },
    close: () => server.close(),
  }
  sandbox = await startSandbox({ records: 20, redirectTo: redirectTarget.url })
  keyway = createKeyway({ sandboxUrl: sandbox.url, transport: { headersTimeoutMs: 500, maxBodyBytes: 1024 * 1024 } })
})
afterAll(async () => {
  await keyway.close()
  await sandbox.stop()
  redirectTarget.close()
})

const CONNECTORS = ["activtrak", "activityinfo", "peopletray", "trackvia"] as const
type Connector = (typeof CONNECTORS)[number]

/** Credentials for a connector, with `key` in the credential that picks the scenario. */
const credentialsFor = (connector: Connector, key: string): Record<string, string> =>
  connector === "activityinfo"
    ? { apiToken: key }
    : connector === "trackvia"
      ? { apiKey: "sandbox-valid", authToken: key }
      : { apiKey: key }

const check = (connector: Connector, key: string): Promise<CheckResult> =>
  keyway.test({ connectorId: connector, credentials: credentialsFor(connector, key) })

/** The same check as an Effect, for tests in virtual time: the vendor's waits cost nothing real. */
const checkEffect = (connector: Connector, key: string) =>
  Effect.flatMap(findDefinition(connector), (definition) =>
    testCredentials(definition, { connectorId: connector, credentials: credentialsFor(connector, key) }),
  )
const inVirtualTime = <A, E>(effect: Effect.Effect<A, E, Effect.Effect.Context<ReturnType<typeof checkEffect>>>) =>
  fastForward(effect).pipe(Effect.provide(checkServices(sandbox.url)))

let unique = 0
const fresh = (key: string) => `${key}-t${++unique}`

const EXPECTED: Record<string, Record<Connector, string>> = {
  "sandbox-valid": {
    activtrak: "connected",
    activityinfo: "connected",
    peopletray: "connected",
    trackvia: "connected",
  },
  "sandbox-invalid": {
    activtrak: "invalid_credentials",
    activityinfo: "invalid_credentials",
    peopletray: "invalid_credentials",
    trackvia: "invalid_credentials",
  },
  "sandbox-expired": {
    activtrak: "invalid_credentials",
    activityinfo: "invalid_credentials",
    peopletray: "invalid_credentials",
    trackvia: "expired_credentials",
  },
  "sandbox-plan": {
    activtrak: "plan_not_eligible",
    activityinfo: "insufficient_permissions",
    peopletray: "insufficient_permissions",
    trackvia: "insufficient_permissions",
  },
  "sandbox-ip-blocked": {
    activtrak: "invalid_credentials",
    activityinfo: "invalid_credentials",
    peopletray: "invalid_credentials",
    trackvia: "invalid_credentials",
  },
  "sandbox-429-always": {
    activtrak: "rate_limited",
    activityinfo: "rate_limited",
    peopletray: "rate_limited",
    trackvia: "rate_limited",
  },
  "sandbox-html": {
    activtrak: "unexpected_response",
    activityinfo: "unexpected_response",
    peopletray: "unexpected_response",
    trackvia: "unexpected_response",
  },
  "sandbox-html-error": {
    activtrak: "server_error",
    activityinfo: "server_error",
    peopletray: "server_error",
    trackvia: "server_error",
  },
  "sandbox-not-json": {
    activtrak: "unexpected_response",
    activityinfo: "unexpected_response",
    peopletray: "unexpected_response",
    trackvia: "unexpected_response",
  },
  "sandbox-500-1": {
    activtrak: "server_error",
    activityinfo: "server_error",
    peopletray: "server_error",
    trackvia: "server_error",
  },
}

describe("every connector crossed with every scenario", () => {
  for (const [key, outcomes] of Object.entries(EXPECTED)) {
    for (const connector of CONNECTORS) {
      it(`${connector} with ${key} gives ${outcomes[connector]} in one attempt`, async () => {
        const result = await check(connector, key.endsWith("-1") ? fresh(key) : key)
        expect(result.verdict.outcome).toBe(outcomes[connector])
        // Probes add attempts only after a pass; failures are never retried (500 is not retryable).
        expect(result.attempts.length).toBe(
          result.verdict.outcome === "connected" && connector === "activityinfo" ? 2 : 1,
        )
        expect(result.verdict.message.length).toBeGreaterThan(10)
        expect(result.verdict.remediation.length).toBeGreaterThan(5)
      })
    }
  }
})

describe("save & test verdicts", () => {
  it("a 401 carries the definition's own message and the vendor's cleaned message", async () => {
    const result = await check("activtrak", "sandbox-revoked")
    expect(result.verdict).toMatchObject({
      outcome: "invalid_credentials",
      actor: "user",
      code: "invalid_credentials",
      httpStatus: 401,
      message: "ActivTrak rejected the API key. It is invalid or has been revoked.",
      vendorMessage: "API key has been revoked",
      reason: "rule 1",
    })
    expect(result.fingerprints).toEqual({ apiKey: "…oked" })
  })

  it("TrackVia's expired token: expired_credentials, with the echoed token redacted", async () => {
    const result = await check("trackvia", "sandbox-expired")
    expect(result.verdict.outcome).toBe("expired_credentials")
    expect(result.verdict.vendorMessage).toBe("Access token expired: [redacted …ired]")
    expect(JSON.stringify(result)).not.toContain("sandbox-expired")
  })

  it("ActivTrak's 403 means the plan: check the subscription tier", async () => {
    const result = await check("activtrak", "sandbox-plan")
    expect(result.verdict.outcome).toBe("plan_not_eligible")
    expect(result.verdict.remediation).toMatch(/subscription tier \(Advanced Insights\)/)
  })

  it("PeopleTray cannot tell a blocked IP from a bad key, and says so", async () => {
    const result = await check("peopletray", "sandbox-ip-blocked")
    expect(result.verdict).toMatchObject({ outcome: "invalid_credentials", vendorMessage: "Unauthorised" })
    expect(result.verdict.message).toMatch(/IP address/)
    expect(result.verdict.remediation).toMatch(/usage log/)
  })

  it("429 beyond the budget returns rate_limited with retryAfter at once, never invalid credentials", async () => {
    const result = await check("activtrak", fresh("sandbox-429-always"))
    expect(result.verdict).toMatchObject({
      outcome: "rate_limited",
      actor: "retry",
      retryAfterSeconds: 3600,
      reason: "budget_exceeded",
    })
    expect(result.verdict.message).toBe(
      "ActivTrak is throttling requests. The key was not rejected. Try again in 3600 s.",
    )
    expect(result.attempts).toEqual([{ request: "GET /activtrak/reports/v2/workinghours/users", status: 429 }])
  })

  it("after a vendor asks for a long wait, a new check of the same key sends nothing until it ends", async () => {
    const key = fresh("sandbox-429-always")
    await check("peopletray", key)
    const before = [...sandbox.state.statusCounts.values()].reduce((a, b) => a + b, 0)
    const again = await check("peopletray", key)
    expect(again.attempts).toEqual([])
    expect(again.verdict).toMatchObject({
      outcome: "rate_limited",
      code: "rate_limit_hold",
      reason: "held back by the vendor's last wait",
    })
    expect(again.verdict.retryAfterSeconds).toBeGreaterThan(3590)
    expect([...sandbox.state.statusCounts.values()].reduce((a, b) => a + b, 0)).toBe(before)
    // Another key to the same vendor is not held back.
    expect((await check("peopletray", "sandbox-valid")).verdict.outcome).toBe("connected")
  })

  it.effect("429 then success, for each wait-header form, waits as asked and connects on the second attempt", () =>
    Effect.gen(function* () {
      const modes = {
        none: "backoff",
        "retry-after": "retry-after-seconds",
        "http-date": "retry-after-date",
        "x-ratelimit-reset": "x-ratelimit-reset-epoch",
        "x-ratelimit-delta": "x-ratelimit-reset-delta",
        ratelimit: "ratelimit",
      }
      for (const [mode, setBy] of Object.entries(modes)) {
        const result = yield* inVirtualTime(checkEffect("peopletray", fresh(`sandbox-429-${mode}-1`)))
        expect(result.verdict.outcome).toBe("connected")
        expect(result.attempts).toHaveLength(2)
        expect(result.attempts[0]).toMatchObject({ status: 429, waitSetBy: setBy })
        expect(result.attempts[1]).toMatchObject({ status: 200 })
      }
    }),
  )

  it("aborting the signal stops a check at once, in the middle of a wait", async () => {
    const controller = new AbortController()
    const started = performance.now()
    const pending = keyway.test(
      { connectorId: "activtrak", credentials: { apiKey: fresh("sandbox-429-retry-after-5") } },
      { signal: controller.signal },
    )
    setTimeout(() => controller.abort(), 200)
    await expect(pending).rejects.toThrow(/interrupt/i)
    // The vendor asked for 1 s between five throttled attempts; the abort came well before the first retry.
    expect(performance.now() - started).toBeLessThan(900)
  })

  it.effect("503 is retried, then connects", () =>
    Effect.gen(function* () {
      const result = yield* inVirtualTime(checkEffect("trackvia", fresh("sandbox-503-1")))
      expect(result.verdict.outcome).toBe("connected")
      expect(result.attempts.map((a) => a.status)).toEqual([503, 200])
    }),
  )

  it("ActivityInfo warns when the account has a READ_WRITE token, saying whether it can tell it is the entered one", async () => {
    expect((await check("activityinfo", "sandbox-readonly")).warnings).toEqual([])
    const result = await check("activityinfo", "sandbox-readwrite")
    expect(result.verdict.outcome).toBe("connected")
    expect(result.warnings).toEqual([expect.stringMatching(/Some API tokens .* are READ_WRITE.*cannot tell/)])
    expect((await check("activityinfo", "sandbox-readwrite-all")).warnings).toEqual([
      expect.stringMatching(/Every API token .* is READ_WRITE, so the one you entered is too/),
    ])
  })

  it("ActivTrak checks the optional SCIM token with a probe, and a bad one is a warning, not a failure", async () => {
    const good = await keyway.test({
      connectorId: "activtrak",
      credentials: { apiKey: "sandbox-valid", scimToken: "sandbox-valid" },
    })
    expect(good.verdict.outcome).toBe("connected")
    expect(good.warnings).toEqual([])
    expect(good.attempts.map((a) => a.request)).toEqual([
      "GET /activtrak/reports/v2/workinghours/users",
      "GET /activtrak/scim/v1/ping",
    ])
    const bad = await keyway.test({
      connectorId: "activtrak",
      credentials: { apiKey: "sandbox-valid", scimToken: "sandbox-revoked" },
    })
    expect(bad.verdict.outcome).toBe("connected")
    expect(bad.warnings).toEqual([expect.stringMatching(/SCIM token/)])
  })

  it("warns when a credential expires within 30 days", async () => {
    const soon = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10)
    const result = await keyway.test({
      connectorId: "trackvia",
      credentials: credentialsFor("trackvia", "sandbox-valid"),
      expiresAt: soon,
    })
    expect(result.warnings).toEqual([
      expect.stringMatching(new RegExp(`Auth token expires in 1[01] days, on ${soon}\\.`)),
    ])
  })
})

describe("hostile and broken servers", () => {
  it("slow headers time out as `timeout`, and are not retried", async () => {
    const result = await check("activtrak", "sandbox-slow-5000")
    expect(result.verdict).toMatchObject({ outcome: "timeout", actor: "retry", code: "headers_timeout" })
    expect(result.attempts).toEqual([
      { request: "GET /activtrak/reports/v2/workinghours/users", error: "headers_timeout" },
    ])
  })

  it("a body over the cap is cut off: unexpected_response, no crash, no unbounded buffering", async () => {
    const result = await check("activtrak", "sandbox-huge")
    expect(result.verdict).toMatchObject({ outcome: "unexpected_response", code: "body_too_large" })
    expect(result.verdict.message).toMatch(/larger than Keyway accepts/)
  })

  it("a redirect to another origin is reported and never followed, so no credential reaches it", async () => {
    const before = redirectTarget.hits
    const result = await check("activtrak", "sandbox-redirect")
    expect(result.verdict).toMatchObject({ outcome: "unexpected_response", code: "redirect_not_followed" })
    expect(result.verdict.message).toContain(new URL(redirectTarget.url).origin)
    expect(result.verdict.message).not.toContain("/collect")
    expect(redirectTarget.hits).toBe(before)
  })

  it.effect("a connection reset of a read-only request is retried, then reported as unreachable", () =>
    Effect.gen(function* () {
      const result = yield* inVirtualTime(checkEffect("peopletray", "sandbox-reset"))
      expect(result.verdict).toMatchObject({ outcome: "unreachable", code: "connection_reset" })
      expect(result.attempts.length).toBeGreaterThan(1)
      expect(result.attempts.every((a) => a.error === "connection_reset")).toBe(true)
    }),
  )

  it("a key sent to the wrong base URL gives not_found, not connected", async () => {
    const activtrak = keyway.catalog.get("activtrak")
    if (!activtrak) throw new Error("no activtrak definition")
    // ActivTrak's paths, sent to the PeopleTray fake: a wrong base URL.
    const misdirected = createKeyway({ sandboxUrl: sandbox.url, definitions: [{ ...activtrak, id: "peopletray" }] })
    try {
      const result = await misdirected.test({ connectorId: "peopletray", credentials: { apiKey: "sandbox-valid" } })
      expect(result.verdict).toMatchObject({ outcome: "not_found", httpStatus: 404 })
    } finally {
      await misdirected.close()
    }
  })
})

describe("bad input never reaches the network", () => {
  const requestsServed = () => [...sandbox.state.statusCounts.values()].reduce((a, b) => a + b, 0)

  it("reports every field problem at once, naming fields and never a credential's value", async () => {
    const before = requestsServed()
    const error = await keyway
      .test({
        connectorId: "trackvia",
        credentials: { authToken: "has spaces in it", bogus: "x" },
        settings: { subdomain: "Not A Host!", colour: "red" },
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidInput)
    expect((error as InvalidInput).problems.map((p) => p.field)).toEqual([
      "credentials.bogus",
      "credentials.apiKey",
      "credentials.authToken",
      "settings.colour",
      "settings.subdomain",
      "settings.subdomain",
    ])
    // Settings are not secret, so the bad base URL may be quoted; a credential never is.
    expect(JSON.stringify((error as InvalidInput).problems)).not.toContain("has spaces in it")
    expect(requestsServed()).toBe(before)
  })

  it("rejects CR/LF in a credential before sending, naming the field but not the value", async () => {
    const before = requestsServed()
    const error = (await keyway
      .test({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid\r\nX-Injected: yes" } })
      .catch((e: unknown) => e)) as InvalidInput
    expect(error.problems).toEqual([
      { field: "credentials.apiKey", message: "contains a line break or control character; paste the value again" },
    ])
    expect(error.message).not.toContain("sandbox-valid")
    expect(requestsServed()).toBe(before)
  })

  it("the request builder refuses a control character in any header value, even past field checks", () => {
    const built = buildRequest({ path: "/x" }, [{ in: "header", name: "x-api-key", value: "${credentials.apiKey}" }], {
      baseUrl: new URL("https://api.activtrak.com"),
      credentials: { apiKey: Redacted.make("abc\u0000def") },
      settings: {},
      now: new Date(),
    })
    expect(Either.isLeft(built) && built.left.problems).toEqual([
      {
        field: "credentials.apiKey",
        message: "contains a line break or control character and cannot be sent in a header",
      },
    ])
  })

  it("a vendor's cursor is sent as text, never rendered as a template", () => {
    const built = buildRequest(
      { path: "/log", literal: { query: { cursor: "${credentials.apiKey}" } } },
      [{ in: "header", name: "x-api-key", value: "${credentials.apiKey}" }],
      {
        baseUrl: new URL("https://api.activtrak.com"),
        credentials: { apiKey: Redacted.make("secret-key-1234") },
        settings: {},
        now: new Date(),
      },
    )
    expect(Either.isRight(built) && built.right.url.searchParams.get("cursor")).toBe("${credentials.apiKey}")
    expect(Either.isRight(built) && built.right.url.href).not.toContain("secret-key-1234")
  })

  it("refuses a self-hosted server on a private address, and an unknown connector", async () => {
    const direct = createKeyway()
    try {
      const error = (await direct
        .test({
          connectorId: "activityinfo",
          credentials: { apiToken: "sandbox-valid" },
          settings: { serverUrl: "https://10.0.0.8" },
        })
        .catch((e: unknown) => e)) as InvalidInput
      expect(error.problems).toEqual([
        { field: "settings.serverUrl", message: expect.stringMatching(/loopback, private or special-purpose address/) },
      ])
      const unknown = await direct.test({ connectorId: "nope", credentials: {} }).catch((e: unknown) => e)
      expect(unknown).toBeInstanceOf(UnknownConnector)
      expect(String(unknown)).toContain('no connector "nope"')
    } finally {
      await direct.close()
    }
  })
})
