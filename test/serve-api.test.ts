/**
 * keyway serve's HTTP API over real HTTP on loopback: every endpoint and error code, each answer
 * checked against the generated /openapi.json; workspace isolation; idempotency; cursor pages; the
 * connect form's CSRF, single use and expiry; rate limits; body limits; and a leak canary across
 * responses, HTML, logs and the files at rest.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Ajv2020Module from "ajv/dist/2020.js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import sqlite3 from "sqlite3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadCatalog } from "../runner/catalog/load-now.ts"
import { openQueues } from "../runner/fleet/queues.ts"
import { serve } from "../runner/server/serve.ts"
import type { Limits } from "../runner/server/service.ts"
import { storeConfigFromEnv } from "../runner/vault/store.ts"
import { cli } from "./support/cli.ts"
import { findRedisServer, startRedis } from "./support/redis.ts"

interface Running {
  readonly url: string
  readonly home: string
  readonly log: string[]
  readonly stop: () => Promise<void>
  readonly key: (workspace: string) => Promise<string>
}

const start = async (
  limits: Partial<Limits> = {},
  shared?: { home: string; redis: string },
  fleetRedisUrl?: string,
): Promise<Running> => {
  const home = shared?.home ?? mkdtempSync(join(tmpdir(), "keyway-serve-"))
  const storeEnv: Record<string, string> = { KEYWAY_HOME: home, ...(shared ? { KEYWAY_STORE: shared.redis } : {}) }
  const env = { ...process.env, ...storeEnv }
  const log: string[] = []
  const scope = Effect.runSync(Scope.make())
  const { url } = await Effect.runPromise(
    Scope.extend(
      serve({
        port: 0,
        host: "127.0.0.1",
        definitions: loadCatalog(),
        store: storeConfigFromEnv(env),
        env,
        sandbox: true,
        limits,
        fleetRedisUrl,
        log: (line) => log.push(line),
      }),
      scope,
    ),
  )
  return {
    url,
    home,
    log,
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void)),
    key: async (workspace) =>
      JSON.parse((await cli(["workspaces", "create", workspace, "--json"], { env: storeEnv })).stdout).key,
  }
}

// ajv is CommonJS; its default export is the class itself under Node's ESM interop.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as unknown as new (
  options: object,
) => {
  addSchema: (schema: unknown, key: string) => void
  getSchema: (ref: string) => ((data: unknown) => boolean) & { errors?: unknown }
}

/** Validates a real answer against the schema /openapi.json gives for that path, method and status. */
const conformance = async (url: string) => {
  const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
    openapi: string
    paths: Record<string, unknown>
  }
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  ajv.addSchema(document, "openapi")
  return {
    document,
    check: (method: string, path: string, status: number, body: unknown) => {
      const pointer = `openapi#/paths/${path.replace(/~/g, "~0").replace(/\//g, "~1")}/${method}/responses/${status}/content/application~1json/schema`
      const validate = ajv.getSchema(pointer)
      if (!validate) throw new Error(`no schema for ${method} ${path} ${status} in /openapi.json`)
      const ok = validate(body)
      expect(ok ? [] : validate.errors).toEqual([])
    },
  }
}

describe("keyway serve: the HTTP API", () => {
  let server: Running
  let keyA: string
  let keyB: string
  let spec: Awaited<ReturnType<typeof conformance>>
  const call = async (
    method: string,
    path: string,
    options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    })
    const text = await response.text()
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers }
  }
  /** Calls, then checks the answer against the OpenAPI document's schema for `template`. */
  const checked = async (method: string, path: string, template: string, options: Parameters<typeof call>[2] = {}) => {
    const answer = await call(method, path, options)
    if (answer.status !== 204) spec.check(method.toLowerCase(), template, answer.status, answer.body)
    return answer
  }

  /**
   * A new connection in team A, and SQL on the server's store file beside it: triggers that refuse a
   * write, as a full disk or a kill between two writes would.
   */
  const connectionWithStoreAccess = async () => {
    const made = await call("POST", "/v1/connections", {
      key: keyA,
      body: { connector: "activtrak", credentials: { apiKey: "sandbox-valid" } },
    })
    const db = new sqlite3.Database(join(server.home, "keyway.sqlite"))
    return {
      id: made.body.connection.id as string,
      exec: (sql: string) =>
        new Promise<void>((resolve, reject) => db.exec(sql, (error) => (error ? reject(error) : resolve()))),
      close: () => new Promise<void>((resolve) => db.close(() => resolve())),
    }
  }
  const REFUSAL = "BEGIN SELECT RAISE(ABORT, 'refused'); END"

  beforeAll(async () => {
    server = await start()
    keyA = await server.key("team-a")
    keyB = await server.key("team-b")
    spec = await conformance(server.url)
  })
  afterAll(() => server.stop())

  it("serves an OpenAPI 3.1 document generated from the Schemas, naming every endpoint", () => {
    expect(spec.document.openapi).toBe("3.1.0")
    expect(Object.keys(spec.document.paths).sort()).toEqual([
      "/v1/connections",
      "/v1/connections/{id}",
      "/v1/connections/{id}/credentials",
      "/v1/connections/{id}/events",
      "/v1/connections/{id}/schedules",
      "/v1/connections/{id}/schedules/{stream}",
      "/v1/connections/{id}/test",
      "/v1/connectors",
      "/v1/connectors/{connector}",
      "/v1/sessions",
    ])
  })

  it("refuses a missing or unknown key with 401 unauthorized", async () => {
    for (const key of [undefined, "kw_not-a-key"]) {
      const answer = await checked("GET", "/v1/connections", "/v1/connections", key ? { key } : {})
      expect(answer.status).toBe(401)
      expect(answer.body).toMatchObject({ code: "unauthorized", remediation: expect.any(String) })
    }
  })

  it("lists connectors with their forms, shows one, and 404s an unknown one", async () => {
    const list = await checked("GET", "/v1/connectors", "/v1/connectors", { key: keyA })
    expect(list.body.connectors.map((c: { id: string }) => c.id)).toEqual([
      "activityinfo",
      "activtrak",
      "peopletray",
      "trackvia",
    ])
    const shown = await checked("GET", "/v1/connectors/activtrak", "/v1/connectors/{connector}", { key: keyA })
    expect(shown.body.fields.map((f: { key: string; input: string }) => `${f.key}:${f.input}`)).toEqual([
      "region:select",
      "apiKey:password",
      "scimToken:password",
    ])
    const missing = await checked("GET", "/v1/connectors/nope", "/v1/connectors/{connector}", { key: keyA })
    expect([missing.status, missing.body.code]).toEqual([404, "unknown_connector"])
  })

  it("creates a connection by save & test: 201 and saved, or 422 with the verdict's code and nothing saved", async () => {
    const made = await checked("POST", "/v1/connections", "/v1/connections", {
      key: keyA,
      body: {
        connector: "activtrak",
        credentials: { apiKey: "sandbox-valid" },
        tags: { team: "sales" },
        endUser: { id: "u-1" },
      },
    })
    expect(made.status).toBe(201)
    expect(made.body.connection).toMatchObject({
      connector: "activtrak",
      tags: { team: "sales" },
      endUser: { id: "u-1" },
    })
    const rejected = await checked("POST", "/v1/connections", "/v1/connections", {
      key: keyA,
      body: { connector: "activtrak", credentials: { apiKey: "sandbox-invalid" } },
    })
    expect(rejected.status).toBe(422)
    expect(rejected.body).toMatchObject({
      code: "invalid_credentials",
      outcome: "invalid_credentials",
      remediation: expect.any(String),
    })
    const malformed = await checked("POST", "/v1/connections", "/v1/connections", {
      key: keyA,
      body: { connector: "activtrak", credentials: { apiKey: "has spaces in it" } },
    })
    expect([malformed.status, malformed.body.code]).toEqual([400, "invalid_input"])
    expect(malformed.body.fields[0].field).toBe("credentials.apiKey")
    const shapeless = await checked("POST", "/v1/connections", "/v1/connections", {
      key: keyA,
      body: { connector: "activtrak" },
    })
    expect([shapeless.status, shapeless.body.code]).toEqual([400, "invalid_request"])
    expect(shapeless.body.fields).toEqual([{ field: "credentials", message: "is missing" }])
    const unknown = await checked("POST", "/v1/connections", "/v1/connections", {
      key: keyA,
      body: { connector: "nope", credentials: { apiKey: "x" } },
    })
    expect([unknown.status, unknown.body.code]).toEqual([404, "unknown_connector"])
  })

  it("re-tests, replaces only with credentials that pass, keeps an audit log, and removes", async () => {
    const made = await call("POST", "/v1/connections", {
      key: keyA,
      body: { connector: "activtrak", credentials: { apiKey: "sandbox-valid" } },
    })
    const id = made.body.connection.id
    const retested = await checked("POST", `/v1/connections/${id}/test`, "/v1/connections/{id}/test", { key: keyA })
    expect([retested.status, retested.body.result.verdict.outcome]).toEqual([200, "connected"])
    const refused = await checked("PUT", `/v1/connections/${id}/credentials`, "/v1/connections/{id}/credentials", {
      key: keyA,
      body: { credentials: { apiKey: "sandbox-invalid" } },
    })
    expect([refused.status, refused.body.code]).toEqual([422, "invalid_credentials"])
    // The working credential is still the one in use.
    expect((await call("POST", `/v1/connections/${id}/test`, { key: keyA })).body.result.verdict.outcome).toBe(
      "connected",
    )
    const replaced = await checked("PUT", `/v1/connections/${id}/credentials`, "/v1/connections/{id}/credentials", {
      key: keyA,
      body: { credentials: { apiKey: "sandbox-records-12" } },
    })
    expect([replaced.status, replaced.body.connection.fingerprints.apiKey]).toEqual([200, "…s-12"])
    const shown = await checked("GET", `/v1/connections/${id}`, "/v1/connections/{id}", { key: keyA })
    expect(shown.body.lastTest.verdict.outcome).toBe("connected")
    const removed = await call("DELETE", `/v1/connections/${id}`, { key: keyA })
    expect(removed.status).toBe(204)
    const gone = await checked("GET", `/v1/connections/${id}`, "/v1/connections/{id}", { key: keyA })
    expect([gone.status, gone.body.code]).toEqual([404, "connection_not_found"])
    const events = await checked("GET", `/v1/connections/${id}/events`, "/v1/connections/{id}/events", { key: keyA })
    expect(events.body.events.map((e: { type: string }) => e.type)).toEqual([
      "created",
      "tested",
      "failed",
      "tested",
      "replaced",
      "removed",
    ])
  })

  it("replaces credentials and records it in one write: when the event is refused, the working credential stays", async () => {
    const { id, exec, close } = await connectionWithStoreAccess()
    // Triggers that refuse this connection's audit log.
    await exec(`CREATE TRIGGER refuse_insert BEFORE INSERT ON keyv WHEN NEW.key LIKE '%:sync:events:${id}' ${REFUSAL}`)
    await exec(`CREATE TRIGGER refuse_update BEFORE UPDATE ON keyv WHEN NEW.key LIKE '%:sync:events:${id}' ${REFUSAL}`)
    try {
      const replaced = await call("PUT", `/v1/connections/${id}/credentials`, {
        key: keyA,
        body: { credentials: { apiKey: "sandbox-records-12" } },
      })
      expect(replaced.status).toBe(503)
    } finally {
      await exec("DROP TRIGGER refuse_insert; DROP TRIGGER refuse_update")
      await close()
    }
    // Neither was written: the credential in use is the one that worked, and the log says so.
    const shown = await call("GET", `/v1/connections/${id}`, { key: keyA })
    expect(shown.body.fingerprints.apiKey).toBe("…alid")
    const events = await call("GET", `/v1/connections/${id}/events`, { key: keyA })
    expect(events.body.events.map((e: { type: string }) => e.type)).toEqual(["created"])
  })

  it("removes a connection and records its removal in one write: when either is refused, neither happens", async () => {
    const { id, exec, close } = await connectionWithStoreAccess()
    const refusals = [
      // The event is refused (as a full disk or a kill after the removal would refuse it). Main removed
      // the connection all the same, answered 503, and its log never said "removed".
      [
        `CREATE TRIGGER refuse_insert BEFORE INSERT ON keyv WHEN NEW.key LIKE '%:sync:events:${id}' ${REFUSAL};
         CREATE TRIGGER refuse_update BEFORE UPDATE ON keyv WHEN NEW.key LIKE '%:sync:events:${id}' ${REFUSAL}`,
        "DROP TRIGGER refuse_insert; DROP TRIGGER refuse_update",
      ],
      // The removal is refused: the log must not say "removed" of a credential still stored.
      [
        `CREATE TRIGGER refuse_delete BEFORE DELETE ON keyv WHEN OLD.key LIKE '%:${id}' ${REFUSAL}`,
        "DROP TRIGGER refuse_delete",
      ],
    ] as const
    try {
      for (const [refuse, lift] of refusals) {
        await exec(refuse)
        try {
          expect((await call("DELETE", `/v1/connections/${id}`, { key: keyA })).status, refuse).toBe(503)
        } finally {
          await exec(lift)
        }
        // The answer said it failed, and nothing changed: the connection is there, its history whole.
        expect((await call("GET", `/v1/connections/${id}`, { key: keyA })).status, refuse).toBe(200)
        const events = await call("GET", `/v1/connections/${id}/events`, { key: keyA })
        expect(
          events.body.events.map((e: { type: string }) => e.type),
          refuse,
        ).toEqual(["created"])
      }
    } finally {
      await close()
    }
    // The retry the 503 asks for removes it, and the log says so.
    expect((await call("DELETE", `/v1/connections/${id}`, { key: keyA })).status).toBe(204)
    expect((await call("GET", `/v1/connections/${id}`, { key: keyA })).status).toBe(404)
    const events = await call("GET", `/v1/connections/${id}/events`, { key: keyA })
    expect(events.body.events.map((e: { type: string }) => e.type)).toEqual(["created", "removed"])
  })

  it("does not put back, or log to, a connection removed while its re-test or replace was under way", async () => {
    // A slow vendor: the check is still waiting for its answer when the DELETE comes.
    for (const [method, path, body] of [
      ["POST", "test", undefined],
      // New credentials that fail, slowly (503s, retried): main answered 422 and logged "failed" to
      // the removed connection.
      ["PUT", "credentials", { credentials: { apiKey: "sandbox-503-99" } }],
    ] as const) {
      const made = await call("POST", "/v1/connections", {
        key: keyA,
        body: { connector: "activtrak", credentials: { apiKey: "sandbox-slow-1000" } },
      })
      expect(made.status).toBe(201)
      const id = made.body.connection.id
      const checking = call(method, `/v1/connections/${id}/${path}`, {
        key: keyA,
        ...(body ? { body } : {}),
      })
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect((await call("DELETE", `/v1/connections/${id}`, { key: keyA })).status, path).toBe(204)
      // Main saved the re-tested record over the removal: the credential its owner revoked was back.
      expect((await checking).status, path).toBe(404)
      expect((await call("GET", `/v1/connections/${id}`, { key: keyA })).status, path).toBe(404)
      const events = await call("GET", `/v1/connections/${id}/events`, { key: keyA })
      expect(
        events.body.events.map((e: { type: string }) => e.type),
        path,
      ).toEqual(["created", "removed"])
    }
  })

  it("pages connections with a cursor, which goes on when the connection it ended on has been removed, and refuses a cursor it never gave", async () => {
    const key = await server.key("paging-removed")
    for (let i = 0; i < 4; i++) {
      await call("POST", "/v1/connections", {
        key,
        body: { connector: "activtrak", credentials: { apiKey: `sandbox-records-${i}` } },
      })
    }
    // The listing's order (creation time, then id for two made in one millisecond), in one page.
    const whole = await checked("GET", "/v1/connections?limit=200", "/v1/connections", { key })
    const ids: string[] = whole.body.connections.map((c: { id: string }) => c.id)
    expect(ids).toHaveLength(4)
    const first = await checked("GET", "/v1/connections?limit=2", "/v1/connections", { key })
    expect(first.body.connections.map((c: { id: string }) => c.id)).toEqual(ids.slice(0, 2))
    // The last connection of the page goes before the next page is asked for. Main started the listing
    // again from the first connection: a client paging through saw it twice and the rest never ended.
    expect((await call("DELETE", `/v1/connections/${ids[1]}`, { key })).status).toBe(204)
    const second = await checked("GET", `/v1/connections?limit=2&cursor=${first.body.nextCursor}`, "/v1/connections", {
      key,
    })
    expect(second.body.connections.map((c: { id: string }) => c.id)).toEqual(ids.slice(2))
    expect(second.body.nextCursor).toBeUndefined()
    // A cursor it did not give is refused, not taken for the start of the list.
    const made = await call("GET", "/v1/connections?limit=2&cursor=bm90LWEtY3Vyc29y", { key })
    expect(made.status).toBe(400)
    expect(made.body.code).toBe("invalid_cursor")
  })

  it("isolates workspaces: B's key gets 404 on every one of A's connections, and never lists them", async () => {
    const made = await call("POST", "/v1/connections", {
      key: keyA,
      body: { connector: "activtrak", credentials: { apiKey: "sandbox-valid" } },
    })
    const id = made.body.connection.id
    for (const [method, path, body] of [
      ["GET", `/v1/connections/${id}`, undefined],
      ["POST", `/v1/connections/${id}/test`, undefined],
      ["PUT", `/v1/connections/${id}/credentials`, { credentials: { apiKey: "sandbox-valid" } }],
      ["GET", `/v1/connections/${id}/events`, undefined],
      ["DELETE", `/v1/connections/${id}`, undefined],
    ] as const) {
      const answer = await call(method, path, { key: keyB, ...(body ? { body } : {}) })
      expect([method, path, answer.status, answer.body?.code]).toEqual([method, path, 404, "connection_not_found"])
    }
    const listed = await call("GET", "/v1/connections", { key: keyB })
    expect(listed.body.connections.map((c: { id: string }) => c.id)).not.toContain(id)
    expect((await call("GET", `/v1/connections/${id}`, { key: keyA })).status).toBe(200)
  })

  it("an Idempotency-Key retry gets the first answer and runs no second save & test; another request with it is a conflict", async () => {
    const key = await server.key("idempotent")
    const body = { connector: "activtrak", credentials: { apiKey: "sandbox-valid" } }
    const headers = { "idempotency-key": "create-1" }
    const first = await call("POST", "/v1/connections", { key, body, headers })
    const again = await call("POST", "/v1/connections", { key, body, headers })
    expect(again.body).toEqual(first.body)
    expect((await call("GET", "/v1/connections", { key })).body.connections).toHaveLength(1)
    const other = await checked("POST", "/v1/connections", "/v1/connections", {
      key,
      body: { ...body, label: "another" },
      headers,
    })
    expect([other.status, other.body.code]).toEqual([409, "idempotency_key_reused"])
    const session = { endUser: { id: "u" }, allowedOrigin: "http://127.0.0.1:9" }
    const s1 = await call("POST", "/v1/sessions", { key, body: session, headers: { "idempotency-key": "s-1" } })
    const s2 = await call("POST", "/v1/sessions", { key, body: session, headers: { "idempotency-key": "s-1" } })
    expect(s2.body.token).toBe(s1.body.token)
  })

  it("creates connect sessions for one origin exactly, and refuses a wildcard or a path", async () => {
    const made = await checked("POST", "/v1/sessions", "/v1/sessions", {
      key: keyA,
      body: {
        endUser: { id: "u-9", email: "u9@example.com" },
        allowedOrigin: "https://app.example.com",
        allowedConnectors: ["activtrak"],
        tags: { plan: "pro" },
      },
    })
    expect(made.status).toBe(201)
    expect(made.body.connectLink).toBe(`${server.url}/connect/${made.body.token}`)
    for (const allowedOrigin of ["*", "https://app.example.com/settings", "not a url"]) {
      const refused = await checked("POST", "/v1/sessions", "/v1/sessions", {
        key: keyA,
        body: { endUser: { id: "u" }, allowedOrigin },
      })
      expect([allowedOrigin, refused.status, refused.body.code]).toEqual([allowedOrigin, 400, "invalid_origin"])
    }
    const unknown = await checked("POST", "/v1/sessions", "/v1/sessions", {
      key: keyA,
      body: { endUser: { id: "u" }, allowedOrigin: "https://app.example.com", allowedConnectors: ["nope"] },
    })
    expect([unknown.status, unknown.body.code]).toEqual([404, "unknown_connector"])
  })

  it("serves Prometheus metrics, with checks by outcome", async () => {
    const scraped = await (await fetch(`${server.url}/metrics`)).text()
    expect(scraped).toMatch(/keyway_checks_total\{outcome="connected"\} [1-9]/)
    expect(scraped).toMatch(/keyway_checks_total\{outcome="invalid_credentials"\} [1-9]/)
  })

  it("refuses a body over the limit with 413, before reading it", async () => {
    const answer = await call("POST", "/v1/connections", {
      key: keyA,
      body: { connector: "activtrak", credentials: { apiKey: "x".repeat(100_000) } },
    })
    expect([answer.status, answer.body.code]).toEqual([413, "too_large"])
  })
})

describe("keyway serve: the connect form's defences", () => {
  let server: Running
  let key: string
  const session = async (extra: Record<string, unknown> = {}) =>
    (
      (await (
        await fetch(`${server.url}/v1/sessions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({
            endUser: { id: "u" },
            allowedOrigin: "https://app.example.com",
            allowedConnectors: ["activtrak"],
            ...extra,
          }),
        })
      ).json()) as { token: string }
    ).token
  const form = async (token: string) => {
    const response = await fetch(`${server.url}/connect/${token}/activtrak`)
    const html = await response.text()
    return { response, html, csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "" }
  }
  const post = (token: string, fields: Record<string, string>) =>
    fetch(`${server.url}/connect/${token}/activtrak`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
      redirect: "manual",
    })
  const saved = async () =>
    (
      (await (await fetch(`${server.url}/v1/connections`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
        connections: unknown[]
      }
    ).connections.length

  beforeAll(async () => {
    server = await start({ sessionLifetimeMs: 1500, checksPerSession: 2 })
    key = await server.key("forms")
  })
  afterAll(() => server.stop())

  it("serves the form with a strict CSP, framed only by the session's origin", async () => {
    const { response, html } = await form(await session())
    expect(response.status).toBe(200)
    const csp = response.headers.get("content-security-policy") ?? ""
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors https://app.example.com")
    expect(html).toContain('type="password" autocomplete="off"')
    expect(html).not.toMatch(/<script>|style="/)
  })

  it("refuses a post without the form's CSRF token, and saves nothing", async () => {
    const token = await session()
    const before = await saved()
    const forged = await post(token, { "credentials.apiKey": "sandbox-valid" })
    expect(forged.status).toBe(403)
    const wrong = await post(token, { "credentials.apiKey": "sandbox-valid", csrf: "forged" })
    expect(wrong.status).toBe(403)
    expect(await saved()).toBe(before)
  })

  it("a session works once: the second connect with it is refused", async () => {
    const token = await session({ tags: { plan: "pro" } })
    const { csrf } = await form(token)
    const first = await post(token, { "credentials.apiKey": "sandbox-valid", csrf })
    expect(first.status).toBe(200)
    const second = await post(token, { "credentials.apiKey": "sandbox-valid", csrf })
    expect(second.status).toBe(410)
    expect(await second.text()).toContain("used already")
    expect((await form(token)).response.status).toBe(410)
  })

  it("a session expires", async () => {
    const token = await session()
    const { csrf } = await form(token)
    await new Promise((resolve) => setTimeout(resolve, 1600))
    const late = await post(token, { "credentials.apiKey": "sandbox-valid", csrf })
    expect(late.status).toBe(410)
    expect(await late.text()).toContain("expired")
  })

  it("rate-limits save & test per session, so the form is no oracle for guessing keys", async () => {
    const token = await session()
    const { csrf } = await form(token)
    const statuses = []
    for (let i = 0; i < 3; i++)
      statuses.push((await post(token, { "credentials.apiKey": `sandbox-invalid-${i}`, csrf })).status)
    expect(statuses).toEqual([422, 422, 429])
  })

  it("pre-fills a session's defaults, and copies its tags and end user onto the connection", async () => {
    const token = await session({
      defaults: { activtrak: { region: "eu" } },
      tags: { plan: "pro" },
      endUser: { id: "u-77" },
    })
    const { html, csrf } = await form(token)
    expect(html).toMatch(/<option value="eu" selected>/)
    const done = await post(token, { "settings.region": "eu", "credentials.apiKey": "sandbox-valid", csrf })
    expect(done.status).toBe(200)
    const listed = (await (
      await fetch(`${server.url}/v1/connections`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as {
      connections: Array<{ tags?: Record<string, string>; endUser?: { id: string }; settings: Record<string, string> }>
    }
    expect(listed.connections.at(-1)).toMatchObject({
      tags: { plan: "pro" },
      endUser: { id: "u-77" },
      settings: { region: "eu" },
    })
  })

  it("a re-connect session replaces a connection's credentials only when the new ones pass", async () => {
    const made = (await (
      await fetch(`${server.url}/v1/connections`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-valid" } }),
      })
    ).json()) as { connection: { id: string } }
    const id = made.connection.id
    const token = await session({ reconnect: id })
    const { html, csrf } = await form(token)
    expect(html).toContain("replace the saved ones only if ActivTrak accepts them")
    expect((await post(token, { "credentials.apiKey": "sandbox-invalid", csrf })).status).toBe(422)
    expect((await post(token, { "credentials.apiKey": "sandbox-records-33", csrf })).status).toBe(200)
    const events = (await (
      await fetch(`${server.url}/v1/connections/${id}/events`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { events: Array<{ type: string; by: string }> }
    expect(events.events.map((e) => `${e.type} by ${e.by}`)).toEqual([
      "created by api",
      "failed by form",
      "replaced by form",
    ])
  })

  it("redirects to the session's return URL on success, with the connection id", async () => {
    const token = await session({ returnUrl: "https://app.example.com/done" })
    const { csrf } = await form(token)
    const done = await post(token, { "credentials.apiKey": "sandbox-valid", csrf })
    expect(done.status).toBe(303)
    expect(done.headers.get("location")).toMatch(/^https:\/\/app\.example\.com\/done\?connection=con_/)
  })
})

describe("keyway serve: rate limits per workspace", () => {
  it("the API's save & test past the workspace's budget is 429 too_many_checks, with when to retry", async () => {
    const server = await start({ checksPerWorkspacePerMinute: 2 })
    try {
      const key = await server.key("busy")
      const statuses = []
      let last: { code?: string; retryAfterSeconds?: number } = {}
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${server.url}/v1/connections`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-valid" } }),
        })
        statuses.push(response.status)
        last = (await response.json()) as typeof last
      }
      expect(statuses).toEqual([201, 201, 429])
      expect(last.code).toBe("too_many_checks")
      expect(last.retryAfterSeconds).toBeGreaterThan(0)
    } finally {
      await server.stop()
    }
  })
})

const redisBinary = findRedisServer()

describe.skipIf(!redisBinary)(
  `keyway serve: a fleet shares one budget in Redis${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    it("two servers over one Redis store share each workspace's check budget", async () => {
      const redis = await startRedis(redisBinary as string)
      const home = mkdtempSync(join(tmpdir(), "keyway-fleet-"))
      const one = await start({ checksPerWorkspacePerMinute: 3 }, { home, redis: redis.url })
      const two = await start({ checksPerWorkspacePerMinute: 3 }, { home, redis: redis.url })
      try {
        const key = await one.key("fleet")
        const statuses: number[] = []
        for (const server of [one, two, one, two]) {
          const response = await fetch(`${server.url}/v1/connections`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-valid" } }),
          })
          statuses.push(response.status)
        }
        expect(statuses).toEqual([201, 201, 201, 429])
        // The connections are in the shared store: either server lists all three.
        const listed = (await (
          await fetch(`${two.url}/v1/connections`, { headers: { authorization: `Bearer ${key}` } })
        ).json()) as { connections: unknown[] }
        expect(listed.connections).toHaveLength(3)
      } finally {
        await one.stop()
        await two.stop()
        await redis.stop()
      }
    }, 30_000)
  },
)

describe.skipIf(!redisBinary)(
  `keyway serve: a connection's sync schedules through the API${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    it("puts, lists and removes a cron schedule; refuses an unknown stream, a bad cron, another workspace, and a server without Redis", async () => {
      const redis = await startRedis(redisBinary as string)
      const server = await start({}, undefined, redis.url)
      const alone = await start()
      try {
        const key = await server.key("sched")
        const other = await server.key("sched-other")
        const call = async (
          method: string,
          path: string,
          options: { key: string; body?: unknown },
          base = server.url,
        ) => {
          const response = await fetch(`${base}${path}`, {
            method,
            headers: { authorization: `Bearer ${options.key}`, "content-type": "application/json" },
            ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
          })
          const text = await response.text()
          return { status: response.status, body: text ? JSON.parse(text) : undefined }
        }
        const hook = await cli(["webhooks", "add", "https://app.example.com/hooks", "--json", "--workspace", "sched"], {
          env: { KEYWAY_HOME: server.home },
        })
        expect(hook.code).toBe(0)
        const made = await call("POST", "/v1/connections", {
          key,
          body: { connector: "activtrak", credentials: { apiKey: "sandbox-valid" }, tags: { team: "ops" } },
        })
        const id = made.body.connection.id
        // A host listening for webhooks hears of the new connection: one delivery queued, with its tags.
        const queues = openQueues(redis.url)
        const deliveries = await queues.webhooks.getJobs(["waiting", "delayed", "active", "completed", "failed"])
        await queues.close()
        expect(
          deliveries.map((job) => [job.data.event.type, job.data.event.data.connectionId, job.data.event.data.tags]),
        ).toEqual([["connection.created", id, { team: "ops" }]])
        const put = await call("PUT", `/v1/connections/${id}/schedules/activityLog`, {
          key,
          body: { cron: "0 * * * *" },
        })
        expect(put.status).toBe(200)
        expect(put.body).toMatchObject({ id: `sync:sched:${id}:activityLog`, stream: "activityLog", cron: "0 * * * *" })
        const listed = await call("GET", `/v1/connections/${id}/schedules`, { key })
        expect(listed.body.schedules.map((s: { stream: string; cron: string }) => `${s.stream} ${s.cron}`)).toEqual([
          "activityLog 0 * * * *",
        ])
        const unknown = await call("PUT", `/v1/connections/${id}/schedules/nope`, { key, body: { cron: "0 * * * *" } })
        expect([unknown.status, unknown.body.code]).toEqual([404, "unknown_stream"])
        const badCron = await call("PUT", `/v1/connections/${id}/schedules/activityLog`, {
          key,
          body: { cron: "every hour" },
        })
        expect([badCron.status, badCron.body.code]).toEqual([400, "invalid_cron"])
        const foreign = await call("GET", `/v1/connections/${id}/schedules`, { key: other })
        expect([foreign.status, foreign.body.code]).toEqual([404, "connection_not_found"])
        expect((await call("DELETE", `/v1/connections/${id}/schedules/activityLog`, { key })).status).toBe(204)
        expect((await call("GET", `/v1/connections/${id}/schedules`, { key })).body.schedules).toEqual([])
        const aloneKey = await alone.key("solo")
        const soloMade = await call(
          "POST",
          "/v1/connections",
          { key: aloneKey, body: { connector: "activtrak", credentials: { apiKey: "sandbox-valid" } } },
          alone.url,
        )
        const noFleet = await call(
          "GET",
          `/v1/connections/${soloMade.body.connection.id}/schedules`,
          { key: aloneKey },
          alone.url,
        )
        expect([noFleet.status, noFleet.body.code]).toEqual([503, "no_fleet"])
      } finally {
        await server.stop()
        await alone.stop()
        await redis.stop()
      }
    }, 30_000)
  },
)

describe("keyway serve: leak canary", () => {
  const CANARY = "CANARY-q7Zx9-Wv3k-serve-leak"
  it("a secret appears in no response, HTML page, log line or file at rest; only its last 4 characters do", async () => {
    const server = await start()
    try {
      const key = await server.key("canary")
      const seen: string[] = []
      const api = await fetch(`${server.url}/v1/connections`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ connector: "trackvia", credentials: { apiKey: "sandbox-valid", authToken: CANARY } }),
      })
      seen.push(await api.text())
      const token = (
        (await (
          await fetch(`${server.url}/v1/sessions`, {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify({ endUser: { id: "u" }, allowedOrigin: "https://app.example.com" }),
          })
        ).json()) as { token: string }
      ).token
      const page = await (await fetch(`${server.url}/connect/${token}/trackvia`)).text()
      const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? ""
      for (const accept of ["text/html", "application/json"]) {
        const posted = await fetch(`${server.url}/connect/${token}/trackvia?apiKey=${CANARY}`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", accept },
          body: new URLSearchParams({
            "credentials.apiKey": "sandbox-valid",
            "credentials.authToken": CANARY,
            csrf,
          }).toString(),
        })
        seen.push(await posted.text())
      }
      seen.push(server.log.join("\n"))
      const files = (dir: string): string[] =>
        readdirSync(dir).flatMap((name) =>
          statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)],
        )
      for (const file of files(server.home)) seen.push(readFileSync(file).toString("latin1"))
      for (const text of seen) {
        expect(text).not.toContain(CANARY)
        expect(text).not.toContain("q7Zx9-Wv3k")
      }
      // The session token is the customer's link: it is in their page, never in a log or at rest.
      for (const text of [
        server.log.join("\n"),
        ...files(server.home).map((file) => readFileSync(file).toString("latin1")),
      ]) {
        expect(text).not.toContain(token)
      }
      expect(server.log.some((line) => line.includes("/connect/[token]/trackvia"))).toBe(true)
      expect(server.log.every((line) => !line.includes("?"))).toBe(true)
    } finally {
      await server.stop()
    }
  })
})
