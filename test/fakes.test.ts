/**
 * The fakes are the oracle for every other test, so they are tested against the vendor facts in
 * ../shared/vendors.md, over real loopback sockets.
 */
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SCENARIO_TABLE } from "../fixtures/scenarios.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await startSandbox({ records: 2500 })
})
afterAll(() => sandbox.stop())

const get = async (vendor: keyof Sandbox["baseUrls"], path: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${sandbox.baseUrls[vendor]}${path}`, { headers, redirect: "manual" })
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: response.status, headers: response.headers, body }
}
const post = async (
  vendor: keyof Sandbox["baseUrls"],
  path: string,
  json: unknown,
  headers: Record<string, string>,
) => {
  const response = await fetch(`${sandbox.baseUrls[vendor]}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(json),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

const HOURS = "/reports/v2/workinghours/users?from=2026-01-01&to=2026-01-10"
type Json = Record<string, unknown> & { activity: Array<Record<string, unknown>> }

describe("ActivTrak fake", () => {
  it("takes the key as x-api-key in any letter case, or as Bearer, and nothing else", async () => {
    expect((await get("activtrak", HOURS, { "x-api-key": "sandbox-valid" })).status).toBe(200)
    expect((await get("activtrak", HOURS, { "X-API-KEY": "sandbox-valid" })).status).toBe(200)
    expect((await get("activtrak", HOURS, { Authorization: "Bearer sandbox-valid" })).status).toBe(200)
    expect(await get("activtrak", HOURS, { "x-api-token": "sandbox-valid" })).toMatchObject({
      status: 401,
      body: { messages: ["Missing API key"], success: false },
    })
  })

  it("answers a real-looking key as invalid: only sandbox keys pass", async () => {
    expect(await get("activtrak", HOURS, { "x-api-key": "a1b2c3d4e5f6a1b2c3d4e5f6" })).toMatchObject({
      status: 401,
      body: { messages: ["Invalid API key"], success: false },
    })
  })

  it("answers the plan scenario with 403 in ActivTrak's shape", async () => {
    const result = await get("activtrak", HOURS, { "x-api-key": "sandbox-plan" })
    expect(result.status).toBe(403)
    expect(result.body).toMatchObject({ success: false, messages: [expect.stringMatching(/Advanced Insights/)] })
  })

  it("serves the documented working-hours record shape", async () => {
    const { body } = await get("activtrak", `${HOURS}&pageSize=1`, { "x-api-key": "sandbox-valid" })
    const record = (body as Json).activity[0]
    expect(Object.keys(record ?? {}).sort()).toEqual(
      [
        "activeTime",
        "computer",
        "computerId",
        "date",
        "firstActivity",
        "groups",
        "lastActivity",
        "location",
        "passiveTime",
        "totalTime",
        "user",
        "userId",
      ].sort(),
    )
    expect(record?.activeTime).toEqual({
      productive: expect.any(Number),
      unproductive: expect.any(Number),
      undefined: expect.any(Number),
      total: expect.any(Number),
    })
  })

  it("pages working hours by page/pageSize with total, a short last page and an empty page after", async () => {
    const page = (n: number) =>
      get("activtrak", `${HOURS}&page=${n}&pageSize=1000`, { "x-api-key": "sandbox-valid" }).then((r) => r.body as Json)
    const [first, third, fourth] = await Promise.all([page(1), page(3), page(4)])
    expect(first.total).toBe(2500)
    expect(first.activity).toHaveLength(1000)
    expect(third.activity).toHaveLength(500)
    expect(fourth.activity).toHaveLength(0)
    const dates = first.activity.map((r) => r.date as string)
    expect(dates.every((d) => d >= "2026-01-01" && d <= "2026-01-10")).toBe(true)
  })

  it("defaults pageSize to 150 and refuses more than 1000, a missing range, or two filters", async () => {
    const key = { "x-api-key": "sandbox-valid" }
    expect(((await get("activtrak", HOURS, key)).body as Json).activity).toHaveLength(150)
    expect((await get("activtrak", `${HOURS}&pageSize=1001`, key)).status).toBe(400)
    expect(await get("activtrak", "/reports/v2/workinghours/users?from=2026-01-01", key)).toMatchObject({
      status: 400,
      body: { success: false },
    })
    expect((await get("activtrak", `${HOURS}&groupId=1&clientId=2`, key)).status).toBe(400)
    expect((await get("activtrak", `${HOURS}&deviceId=1`, key)).status).toBe(400)
    expect((await get("activtrak", `${HOURS.replace("users", "computers")}&deviceId=1`, key)).status).toBe(200)
  })

  it("pages the activity log by cursor, and an empty page echoes the same cursor", async () => {
    const key = { "x-api-key": "sandbox-records-250" }
    const base = "/reports/v2/activitylog?startDate=2026-01-01&endDate=2026-01-02&pageSize=100"
    const seen: number[] = []
    let cursor: string | undefined
    for (let i = 0; i < 3; i++) {
      const { body } = await get("activtrak", `${base}${cursor ? `&cursor=${cursor}` : ""}`, key)
      const page = body as Json & { cursor: string }
      seen.push(...page.activity.map((r) => r.logId as number))
      cursor = page.cursor
    }
    expect(seen).toHaveLength(250)
    expect(new Set(seen).size).toBe(250)
    const caughtUp = (await get("activtrak", `${base}&cursor=${cursor}`, key)).body as Json & { cursor: string }
    expect(caughtUp.activity).toEqual([])
    expect(caughtUp.cursor).toBe(cursor)
    expect(Object.keys(((await get("activtrak", `${base}&pageSize=1`, key)).body as Json).activity[0] ?? {})).toEqual([
      "logId",
      "time",
      "time_utc",
      "time_zone",
      "computer",
      "user",
      "duration",
      "executable",
      "website",
      "url",
      "titleBar",
      "productivity",
    ])
  })

  it("answers SCIM ping with Pong for a SCIM token, and lists SCIM users", async () => {
    expect(await get("activtrak", "/scim/v1/ping", { Authorization: "Bearer sandbox-valid" })).toMatchObject({
      status: 200,
      body: "Pong",
    })
    expect((await get("activtrak", "/scim/v1/ping", { "x-api-key": "sandbox-valid" })).status).toBe(401)
    const users = await get("activtrak", "/scim/v1/users?startIndex=1&count=5", {
      Authorization: "Bearer sandbox-valid",
    })
    expect(users.body).toMatchObject({ totalResults: 2500, startIndex: 1, itemsPerPage: 5 })
    expect((users.body as { Resources: unknown[] }).Resources).toHaveLength(5)
  })
})

describe("ActivityInfo fake", () => {
  it("takes the token as Bearer, or as the Basic password with any user name", async () => {
    const basic = (user: string) => `Basic ${Buffer.from(`${user}:sandbox-valid`).toString("base64")}`
    for (const authorization of ["Bearer sandbox-valid", basic("anything"), basic("")]) {
      const result = await get("activityinfo", "/resources/databases", { Authorization: authorization })
      expect(result.status).toBe(200)
      expect(result.body).toEqual(expect.arrayContaining([expect.objectContaining({ suspended: false })]))
    }
  })

  it("answers an empty array to a user with no databases", async () => {
    expect(await get("activityinfo", "/resources/databases", { Authorization: "Bearer sandbox-records-0" })).toEqual(
      expect.objectContaining({ status: 200, body: [] }),
    )
  })

  it("uses {code, message} errors: 401, 403 and 404", async () => {
    expect(
      await get("activityinfo", "/resources/databases", { Authorization: "Bearer sandbox-revoked" }),
    ).toMatchObject({
      status: 401,
      body: { code: "AUTHENTICATION_REQUIRED", message: expect.any(String) },
    })
    expect(
      await get("activityinfo", "/resources/databases", { Authorization: "Bearer sandbox-forbidden" }),
    ).toMatchObject({
      status: 403,
      body: { code: "FORBIDDEN" },
    })
    expect(
      await get("activityinfo", "/resources/databases/nope", { Authorization: "Bearer sandbox-valid" }),
    ).toMatchObject({
      status: 404,
      body: { code: "NOT_FOUND" },
    })
  })

  it("shows the token's scope in the token list", async () => {
    const scopes = async (key: string) =>
      (
        (await get("activityinfo", "/resources/accounts/tokens", { Authorization: `Bearer ${key}` })).body as Array<{
          scope: string
        }>
      ).map((t) => t.scope)
    expect(await scopes("sandbox-readonly")).toEqual(["READ_ONLY", "READ_ONLY"])
    expect(await scopes("sandbox-readwrite")).toContain("READ_WRITE")
  })

  it("pages column sets by window, with array, constant and empty storage", async () => {
    const auth = { Authorization: "Bearer sandbox-valid" }
    const { body: databases } = await get("activityinfo", "/resources/databases", auth)
    const databaseId = (databases as Array<{ databaseId: string }>)[0]?.databaseId
    const tree = (await get("activityinfo", `/resources/databases/${databaseId}`, auth)).body as {
      resources: Array<{ id: string; type: string }>
    }
    const formId = tree.resources.find((r) => r.type === "FORM")?.id
    const schema = (await get("activityinfo", `/resources/form/${formId}/schema`, auth)).body as { elements: unknown[] }
    expect(schema.elements.length).toBeGreaterThan(0)
    const query = (window: [number, number]) =>
      post("activityinfo", "/resources/query/columns", { rowSources: [{ rootFormId: formId }], window }, auth)
    const last = await query([2000, 1000])
    expect(last.body).toMatchObject({ rows: 500, offset: 2000, totalRows: 2500 })
    const columns = last.body.columns as Record<string, { storage: string; values?: unknown[] }>
    expect(columns._id?.storage).toBe("array")
    expect(columns._id?.values).toHaveLength(500)
    expect(columns.partner).toEqual({ type: "STRING", storage: "constant", value: "Partner NGO" })
    expect(columns.notes).toEqual({ type: "STRING", storage: "empty" })
    expect((await query([3000, 1000])).body).toMatchObject({ rows: 0, totalRows: 2500 })
  })

  it("feeds the audit log 100 events at a time until moreEvents is false", async () => {
    const auth = { Authorization: "Bearer sandbox-records-250" }
    const { body: databases } = await get("activityinfo", "/resources/databases", auth)
    const id = (databases as Array<{ databaseId: string }>)[0]?.databaseId
    let startTime: number | undefined
    const counts: number[] = []
    for (let more = true; more; ) {
      const page = await post(
        "activityinfo",
        `/resources/databases/${id}/audit`,
        { typeFilter: ["RECORD"], ...(startTime ? { startTime } : {}) },
        auth,
      )
      counts.push((page.body.events as unknown[]).length)
      more = page.body.moreEvents as boolean
      startTime = page.body.endTime as number
    }
    expect(counts).toEqual([100, 100, 50])
  })
})

describe("PeopleTray fake", () => {
  it("takes X-API-Key in any letter case, and not a Bearer token", async () => {
    expect((await get("peopletray", "/api/v2/powerbi/people", { "x-api-key": "sandbox-valid" })).status).toBe(200)
    expect((await get("peopletray", "/api/v2/powerbi/people", { "X-API-Key": "sandbox-valid" })).status).toBe(200)
    expect(await get("peopletray", "/api/v2/powerbi/people", { Authorization: "Bearer sandbox-valid" })).toMatchObject({
      status: 401,
      body: { Message: "Authorization has been denied for this request." },
    })
  })

  it('answers a blocked IP, an expired key and a revoked key alike: 401 "Unauthorised"', async () => {
    for (const key of ["sandbox-ip-blocked", "sandbox-expired", "sandbox-revoked"]) {
      expect(await get("peopletray", "/api/v2/powerbi/people", { "X-API-Key": key })).toMatchObject({
        status: 401,
        body: { Message: "Unauthorised" },
      })
    }
  })
})

describe("TrackVia fake", () => {
  it("needs user_key in the query plus the token as Bearer or as access_token", async () => {
    const views = "/openapi/views?user_key=sandbox-valid"
    expect((await get("trackvia", views, { Authorization: "Bearer sandbox-valid" })).body).toEqual([
      { id: 341, name: "All Contacts", applicationName: "CRM", default: true },
      expect.anything(),
      expect.anything(),
    ])
    expect((await get("trackvia", `${views}&access_token=sandbox-valid`)).status).toBe(200)
    expect(await get("trackvia", "/openapi/views?access_token=sandbox-valid")).toMatchObject({
      status: 401,
      body: { errors: [], name: "accessDenied", code: "401" },
    })
    expect(await get("trackvia", views)).toMatchObject({ status: 401, body: { error: "unauthorized" } })
  })

  it("answers an expired token with the OAuth invalid_token error, as the real API words it", async () => {
    expect(
      await get("trackvia", "/openapi/views?user_key=sandbox-valid", { Authorization: "Bearer sandbox-expired" }),
    ).toMatchObject({
      status: 401,
      body: { error: "invalid_token", error_description: "Access token expired: sandbox-expired" },
    })
  })

  it("answers a missing view with 401 accessDenied, not 404, and a string code", async () => {
    const result = await get("trackvia", "/openapi/views/999?user_key=sandbox-valid", {
      Authorization: "Bearer sandbox-valid",
    })
    expect(result).toMatchObject({ status: 401, body: { name: "accessDenied", code: "401" } })
    expect(typeof (result.body as { code: unknown }).code).toBe("string")
  })

  it("pages view records by start/max with totalCount, records keyed by field name", async () => {
    const page = async (start: number) =>
      (
        await get("trackvia", `/openapi/views/341?user_key=sandbox-valid&start=${start}&max=1000`, {
          Authorization: "Bearer sandbox-valid",
        })
      ).body as { data: Array<Record<string, unknown>>; totalCount: number; structure: unknown[] }
    const [first, last, past] = await Promise.all([page(0), page(2000), page(2500)])
    expect(first.totalCount).toBe(2500)
    expect(first.data).toHaveLength(1000)
    expect(first.data[0]).toMatchObject({ id: 1, "Contact Name": expect.any(String) })
    expect(last.data).toHaveLength(500)
    expect(past.data).toHaveLength(0)
    expect(
      (
        await get("trackvia", "/openapi/views/341?user_key=sandbox-valid&max=100001", {
          Authorization: "Bearer sandbox-valid",
        })
      ).status,
    ).toBe(400)
  })
})

describe("scenarios common to every fake", () => {
  it("429 n times, then success, with each mode's wait headers", async () => {
    const expectations: Array<[string, (h: Headers) => void]> = [
      [
        "none",
        (h) =>
          expect([h.get("retry-after"), h.get("ratelimit"), h.get("x-ratelimit-reset")]).toEqual([null, null, null]),
      ],
      ["retry-after", (h) => expect(h.get("retry-after")).toBe("1")],
      ["http-date", (h) => expect(Date.parse(h.get("retry-after") ?? "") - Date.now()).toBeGreaterThan(0)],
      ["x-ratelimit-reset", (h) => expect(Number(h.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000)],
      ["x-ratelimit-delta", (h) => expect(h.get("x-ratelimit-reset")).toBe("1")],
      ["ratelimit", (h) => expect(h.get("ratelimit")).toBe('"default";r=0;t=1')],
    ]
    for (const [mode, check] of expectations) {
      const key = { "x-api-key": `sandbox-429-${mode}-2-scenario` }
      const first = await get("activtrak", HOURS, key)
      const second = await get("activtrak", HOURS, key)
      const third = await get("activtrak", HOURS, key)
      expect([first.status, second.status, third.status]).toEqual([429, 429, 200])
      check(first.headers)
    }
  })

  it("always-throttled keys never get through, and ask for an hour", async () => {
    const result = await get("peopletray", "/api/v2/powerbi/people", { "X-API-Key": "sandbox-429-always" })
    expect(result.status).toBe(429)
    expect(result.headers.get("retry-after")).toBe("3600")
  })

  it("500s and 503s n times, then success", async () => {
    const key = { Authorization: "Bearer sandbox-500-2-scenario" }
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await get("activityinfo", "/resources/databases", key)).status)
    expect(statuses).toEqual([500, 500, 200])
  })

  it("delays the response headers for a slow key", async () => {
    const started = performance.now()
    const result = await get("activtrak", HOURS, { "x-api-key": "sandbox-slow-300" })
    expect(result.status).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
  })

  it("serves broken bodies: not JSON, an HTML page, an HTML proxy error", async () => {
    const notJson = await get("activtrak", HOURS, { "x-api-key": "sandbox-not-json" })
    expect(notJson.status).toBe(200)
    expect(notJson.headers.get("content-type")).toMatch(/json/)
    expect(typeof notJson.body).toBe("string")
    const html = await get("trackvia", "/openapi/views?user_key=sandbox-valid", {
      Authorization: "Bearer sandbox-html",
    })
    expect(html).toMatchObject({ status: 200, body: expect.stringContaining("<form") })
    const proxy = await get("peopletray", "/api/v2/powerbi/people", { "X-API-Key": "sandbox-html-error" })
    expect(proxy).toMatchObject({ status: 502, body: expect.stringContaining("502 Bad Gateway") })
  })

  it("redirects to another origin, and resets the connection", async () => {
    const redirect = await get("activtrak", HOURS, { "x-api-key": "sandbox-redirect" })
    expect(redirect.status).toBe(302)
    expect(new URL(redirect.headers.get("location") ?? "").origin).not.toBe(new URL(sandbox.url).origin)
    await expect(get("activtrak", HOURS, { "x-api-key": "sandbox-reset" })).rejects.toThrow()
  })

  it("answers an unknown vendor prefix with a 404 that names the vendors", async () => {
    const response = await fetch(`${sandbox.url}/nope/x`)
    expect(response.status).toBe(404)
    expect(await response.text()).toContain("/activtrak")
  })
})

describe("the scenario table", () => {
  it("documents every scenario key in fixtures/README.md", () => {
    const readme = readFileSync(new URL("../fixtures/README.md", import.meta.url), "utf8")
    for (const { key } of SCENARIO_TABLE) {
      for (const part of key.split(/,\s*|\s+\/\s+/)) expect(readme).toContain(`\`${part}\``)
    }
  })
})
