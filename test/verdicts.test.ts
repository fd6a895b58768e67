/**
 * Trust, part 2: every check answers within its budget, and every verdict tells the truth. Each test
 * failed before its fix (the closing note says which already held after the redesign).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { classify } from "../core/classify.ts"
import type { ConnectorDefinition } from "../core/definition.ts"
import { loadDefinitionText } from "../core/load.ts"
import { requestedWait } from "../core/rate-limit-headers.ts"
import { testCredentials } from "../runner/check/check.ts"
import { createKeyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { Store } from "../runner/vault/store.ts"
import { MINIMAL, minimalWith } from "./minimal-definition.ts"
import { cli } from "./support/cli.ts"
import { checkServices } from "./support/services.ts"
import { fastForward } from "./support/virtual-time.ts"

/** A vendor that misbehaves in the way its key names. */
const hostile = (request: IncomingMessage, response: ServerResponse): void => {
  const key = String(request.headers["x-api-key"] ?? "")
  if (key.startsWith("trickle")) {
    response.writeHead(200, { "content-type": "application/json" })
    response.write("[")
    const timer = setInterval(() => response.write(" "), 3_000)
    response.on("close", () => clearInterval(timer))
    return
  }
  if (key.startsWith("silent")) return // headers never come
  const throttledOnce = (headers: Record<string, string>) => {
    seen.set(key, (seen.get(key) ?? 0) + 1)
    if ((seen.get(key) ?? 0) === 1) {
      response.writeHead(429, { "content-type": "application/json", ...headers })
      response.end("{}")
    } else {
      response.writeHead(200, { "content-type": "application/json" })
      response.end("[]")
    }
  }
  const once: Record<string, Record<string, string>> = {
    policy: { "ratelimit-policy": '"default";q=1;w=60', ratelimit: '"default";r=0;t=2' },
    ietf: { ratelimit: '"default";r=0;t=2' },
    nowait: {},
  }
  const throttling = Object.keys(once).find((prefix) => key.startsWith(prefix))
  if (throttling) {
    throttledOnce(once[throttling] ?? {})
    return
  }
  if (key.startsWith("failing")) {
    response.writeHead(503, { "content-type": "application/json" })
    response.end("{}")
    return
  }
  response.writeHead(200, { "content-type": "application/json" })
  response.end("[]")
}
const seen = new Map<string, number>()

let vendor: Server
let vendorUrl: string
beforeAll(async () => {
  vendor = createServer(hostile)
  await new Promise<void>((resolve) => vendor.listen(0, "127.0.0.1", resolve))
  vendorUrl = `http://127.0.0.1:${(vendor.address() as AddressInfo).port}`
})
afterAll(() => {
  vendor.closeAllConnections()
  vendor.close()
})

const acme = (text: string = MINIMAL): ConnectorDefinition => {
  const loaded = loadDefinitionText("connectors/acme.yaml", text)
  if (!loaded.definition) throw new Error(loaded.problems.map((p) => p.message).join("; "))
  return loaded.definition
}
/** Acme with a short save & test budget, so a real-time wait for it stays short. */
const quickAcme = () => acme(MINIMAL.replace("saveAndTestBudgetMs: 10000", "saveAndTestBudgetMs: 2000"))

describe("1. one deadline for a whole check", () => {
  for (const [what, key] of [
    ["a body that trickles one byte every 3 s", "trickle"],
    ["headers that never come", "silent"],
  ] as const) {
    it(`${what} is cut off at the budget, not later`, async () => {
      const keyway = createKeyway({ sandboxUrl: vendorUrl, definitions: [quickAcme()] })
      try {
        const started = performance.now()
        const result = await keyway.test({ connectorId: "acme", credentials: { apiKey: `${key}-${Math.random()}` } })
        expect(performance.now() - started).toBeLessThan(2_000 + 1_000)
        expect(result.verdict).toMatchObject({ outcome: "timeout", code: "deadline_exceeded" })
        expect(result.attempts.at(-1)).toMatchObject({ error: "time_up" })
      } finally {
        await keyway.close()
      }
    })
  }

  it.effect(
    "a 60 s RateLimit-Policy with a 2 s reset: the check answers within its budget, every wait in the log",
    () =>
      Effect.gen(function* () {
        const definition = acme()
        const check = testCredentials(definition, {
          connectorId: "acme",
          credentials: { apiKey: `policy-${Math.random()}` },
        })
        const result = yield* fastForward(check).pipe(
          Effect.provide(checkServices(vendorUrl, { definitions: [definition] })),
        )
        expect(result.durationMs).toBeLessThanOrEqual(10_000 + 1_000)
        expect(result.verdict.outcome).toBe("connected")
        // The 2 s reset is what was waited, and the log says so: no hidden 60 s pacing hold.
        const waited = result.attempts.reduce((sum, a) => sum + (a.waitMs ?? 0) + (a.heldMs ?? 0), 0)
        expect(result.durationMs).toBeGreaterThanOrEqual(waited)
        expect(result.durationMs - waited).toBeLessThan(100)
        expect(result.attempts[0]).toMatchObject({ status: 429, waitMs: 2_000, waitSetBy: "ratelimit" })
      }),
  )

  it.effect("an IETF reset of t=2 takes 2 s, not more", () =>
    Effect.gen(function* () {
      const definition = acme()
      const check = testCredentials(definition, {
        connectorId: "acme",
        credentials: { apiKey: `ietf-${Math.random()}` },
      })
      const result = yield* fastForward(check).pipe(
        Effect.provide(checkServices(vendorUrl, { definitions: [definition] })),
      )
      expect(result.verdict.outcome).toBe("connected")
      expect(result.durationMs).toBeLessThan(2_500)
    }),
  )
})

describe("2. backoff never goes below what the definition declares", () => {
  it.effect("a 429 with no wait header waits at least the declared first delay", () =>
    Effect.gen(function* () {
      const definition = acme()
      const check = testCredentials(definition, {
        connectorId: "acme",
        credentials: { apiKey: `nowait-${Math.random()}` },
      })
      const result = yield* fastForward(check).pipe(
        Effect.provide(checkServices(vendorUrl, { definitions: [definition] })),
      )
      expect(result.verdict.outcome).toBe("connected")
      expect(result.attempts[0]).toMatchObject({ status: 429, waitSetBy: "backoff" })
      expect(result.attempts[0]?.waitMs).toBeGreaterThanOrEqual(definition.rateLimit.baseDelayMs)
    }),
  )
})

describe("3. a retry quota per vendor host", () => {
  it.effect("once a failing vendor has used up the quota, checks answer at once and are not retried", () =>
    Effect.gen(function* () {
      const definition = acme()
      const check = (i: number) =>
        testCredentials(definition, { connectorId: "acme", credentials: { apiKey: `failing-${i}` } })
      const results = yield* fastForward(
        Effect.forEach(
          Array.from({ length: 150 }, (_, i) => i),
          check,
          { concurrency: 10 },
        ),
      ).pipe(Effect.provide(checkServices(vendorUrl, { definitions: [definition] })))
      const last = results.at(-1)
      expect(last?.attempts).toHaveLength(1)
      expect(last?.verdict).toMatchObject({ outcome: "server_error", reason: "retry_quota_exhausted" })
      expect(last?.verdict.message).toMatch(/the vendor is failing; not retried/i)
      // Before the quota ran out, checks were retried as usual.
      expect(results[0]?.attempts.length).toBeGreaterThan(1)
    }),
  )

  it("the docs page prints the real retry policy from the engine's numbers", async () => {
    const { connectorPage } = await import("../runner/authoring/docs.ts")
    const page = connectorPage(acme(), "connectors/acme.yaml")
    expect(page).toMatch(/retry quota/i)
    expect(page).toContain("first retry after 1 s to 2 s")
  })
})

describe("4. every HTTP-date form, in UTC", () => {
  const NOW = Date.UTC(1994, 10, 6, 8, 49, 0)
  for (const zone of ["America/New_York", "Asia/Tokyo"]) {
    for (const [form, value] of [
      ["IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT"],
      ["RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT"],
      ["asctime", "Sun Nov  6 08:49:37 1994"],
    ] as const) {
      it(`${form} under TZ=${zone}`, () => {
        const before = process.env.TZ
        process.env.TZ = zone
        try {
          expect(requestedWait((name) => (name === "retry-after" ? value : undefined), NOW)).toEqual({
            delayMs: 37_000,
            source: "retry-after-date",
          })
        } finally {
          process.env.TZ = before
        }
      })
    }
  }
})

describe("5. sync blames the credentials only for the credentials", () => {
  let sandbox: Sandbox
  const home = mkdtempSync(join(tmpdir(), "keyway-verdicts-"))
  let env: Record<string, string>
  beforeAll(async () => {
    sandbox = await startSandbox({ records: 30 })
    env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandbox.url }
  })
  afterAll(() => sandbox.stop())
  const connect = async (connector: string, credentials: Record<string, string>) =>
    JSON.parse(
      (await cli(["connect", connector, "--sandbox", "--json"], { env, stdin: JSON.stringify(credentials) })).stdout,
    ).connection.id as string
  const lastTest = async (id: string) =>
    (
      JSON.parse((await cli(["connections", "--json"], { env })).stdout) as Array<{ id: string; lastTest: unknown }>
    ).find((c) => c.id === id)?.lastTest

  it("a TrackVia view that does not exist is a parameter problem: exit 2, the connection left alone", async () => {
    const id = await connect("trackvia", { apiKey: "sandbox-valid", authToken: "sandbox-valid" })
    const before = await lastTest(id)
    const synced = await cli(["sync", id, "viewRecords", "--param", "viewId=999999", "--sandbox"], { env })
    expect(synced.code).toBe(2)
    expect(synced.stderr).toMatch(/viewId/)
    expect(synced.stderr).not.toMatch(/credentials rejected/)
    expect(await lastTest(id)).toEqual(before)
  })

  it("an ActivityInfo form that does not exist is a parameter problem, not 'no API at this URL'", async () => {
    const id = await connect("activityinfo", { apiToken: "sandbox-valid" })
    const before = await lastTest(id)
    const synced = await cli(["sync", id, "formRecords", "--param", "formId=cnope00000", "--sandbox"], { env })
    expect(synced.code).toBe(2)
    expect(synced.stderr).toMatch(/formId/)
    expect(await lastTest(id)).toEqual(before)
  })

  it("a rule says what it judges; a 400 judges the request; rejections judge the credential by default", () => {
    const definition = acme(
      minimalWith(
        "    - { status: 403,",
        "    - { status: 404, json: { path: code, equals: NO_SUCH_VIEW }, outcome: not_found, scope: request, message: No such view., remediation: Check viewId. }\n    - { status: 403,",
      ),
    )
    const judged = (status: number, body: unknown) =>
      classify(
        definition,
        {
          kind: "response",
          facts: {
            status,
            header: () => undefined,
            text: JSON.stringify(body),
            json: body,
            truncated: false,
          },
        },
        { secrets: [] },
      )
    expect(judged(404, { code: "NO_SUCH_VIEW" })).toMatchObject({ outcome: "not_found", scope: "request" })
    expect(judged(404, { code: "OTHER" }).scope).toBeUndefined()
    expect(judged(400, {})).toMatchObject({ scope: "request" })
    expect(judged(401, {})).toMatchObject({ outcome: "invalid_credentials", scope: "credential" })
    expect(judged(403, {})).toMatchObject({ outcome: "plan_not_eligible", scope: "credential" })
    expect(judged(503, {}).scope).toBeUndefined()
  })

  it("a rejected key marks the connection, and the next successful sync clears the mark", async () => {
    const id = await connect("activtrak", { apiKey: "sandbox-revoked-after-1-clears" })
    const failed = await cli(
      ["sync", id, "workingHoursUsers", "--from", "2026-01-01", "--to", "2026-01-02", "--sandbox"],
      { env },
    )
    expect(failed.code).toBe(3)
    expect(await lastTest(id)).toMatchObject({ by: "sync", verdict: { outcome: "invalid_credentials" } })
    sandbox.state.reset() // the vendor takes the key back: it works again
    const synced = await cli(
      ["sync", id, "workingHoursUsers", "--from", "2026-01-01", "--to", "2026-01-02", "--sandbox"],
      { env },
    )
    expect(synced.code).toBe(0)
    expect(await lastTest(id)).toMatchObject({ by: "sync", verdict: { outcome: "connected" } })
  })
})

describe("6. a check without a test request says plainly that nothing was verified", () => {
  it("a distinct outcome and exit code, and never saved as verified", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyway-untested-"))
    writeFileSync(
      join(dir, "acme.yaml"),
      minimalWith('    - path: /v1/me\n      query: { since: "${today}" }\n', "    []\n").replace(
        "  requests:\n    []",
        "  requests: []",
      ),
    )
    const env = { KEYWAY_CONNECTORS: dir, KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-untested-home-")) }
    const connected = await cli(["connect", "acme", "--json"], { env, stdin: '{"apiKey":"anything-at-all"}' })
    const { result, saved } = JSON.parse(connected.stdout)
    expect(result.verdict).toMatchObject({ outcome: "not_tested", actor: "user" })
    expect(result.tested).toBe(false)
    expect(saved).toBe(false)
    expect(connected.code).toBe(6)
  })
})

describe("7. one bad file in connectors/ neither breaks nor hides the others", () => {
  const dir = mkdtempSync(join(tmpdir(), "keyway-bad-connectors-"))
  const env = { KEYWAY_CONNECTORS: dir, KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-bad-home-")) }
  beforeAll(() => {
    writeFileSync(join(dir, "activtrak.yaml"), readFileSync(new URL("../connectors/activtrak.yaml", import.meta.url)))
    writeFileSync(
      join(dir, "broken.yaml"),
      MINIMAL.replace("id: acme", "id: broken").replace("secret: true", "secret: maybe"),
    )
    // The "billion laughs": each alias doubles the one before.
    const levels = Array.from({ length: 24 }, (_, i) => `l${i + 1}: &l${i + 1} [*l${i}, *l${i}]`).join("\n")
    writeFileSync(join(dir, "bomb.yaml"), `id: bomb\nl0: &l0 [x]\n${levels}\n`)
  })

  it("connect names the invalid file's problems, instead of 'no connector'", async () => {
    const connected = await cli(["connect", "broken"], { env, stdin: '{"apiKey":"x"}' })
    expect(connected.code).toBe(2)
    expect(connected.stderr).toMatch(/broken\.yaml:\d+:\d+ credentials\[0\]\.secret/)
    expect(connected.stderr).not.toMatch(/no connector/)
  })

  // Commands that list or serve every connector report every invalid file, and go on with the rest.
  for (const args of [["connectors"], ["validate"]]) {
    it(`${args.join(" ")} reports the invalid files and goes on with the others`, async () => {
      const run = await cli(args, { env })
      expect(run.code).toBe(args[0] === "validate" ? 2 : 0)
      expect(run.stderr).toMatch(/broken\.yaml:\d+:\d+/)
      expect(run.stderr).toMatch(/bomb\.yaml:\d+:\d+ .*alias/i)
      expect(run.stderr).not.toMatch(/bug in Keyway/)
      if (args[0] !== "validate") expect(run.stdout).toContain("activtrak")
    })
  }

  // A command that names a connector reads that file alone: an invalid one is reported, not hidden.
  it("streams of an invalid file names its problems; streams of a good one works beside it", async () => {
    const broken = await cli(["streams", "bomb"], { env })
    expect(broken.code).toBe(2)
    expect(broken.stderr).toMatch(/bomb\.yaml:\d+:\d+ .*alias/i)
    const good = await cli(["streams", "activtrak"], { env })
    expect(good.code).toBe(0)
    expect(good.stdout).toContain("workingHoursUsers")
  })

  it("connect of a good connector still works beside them", async () => {
    const connected = await cli(["connect", "activtrak", "--sandbox"], {
      env: { ...env, KEYWAY_SANDBOX_URL: "" },
      stdin: '{"apiKey":"sandbox-valid"}',
    })
    expect(connected.stderr).not.toMatch(/bug in Keyway/)
    expect(connected.code).toBe(0)
  })
})

describe("8. exit codes say who must act", () => {
  let sandbox: Sandbox
  const home = mkdtempSync(join(tmpdir(), "keyway-exits-"))
  let env: Record<string, string>
  let id: string
  beforeAll(async () => {
    sandbox = await startSandbox({ records: 30 })
    env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandbox.url }
    id = JSON.parse(
      (
        await cli(["connect", "trackvia", "--sandbox", "--json"], {
          env,
          stdin: '{"apiKey":"sandbox-valid","authToken":"sandbox-valid"}',
        })
      ).stdout,
    ).connection.id
  })
  afterAll(() => sandbox.stop())

  const expectUserError = (run: { code: number; stderr: string }, message: RegExp) => {
    expect(run.stderr).toMatch(message)
    expect(run.stderr).not.toMatch(/bug in Keyway|\n\s+at /)
    expect(run.code).toBe(2)
  }

  it("sync --out naming an existing folder", async () => {
    expectUserError(await cli(["sync", id, "views", "--out", home, "--sandbox"], { env }), /--out .* is a folder/)
  })

  it("sync --out to a full device", async () => {
    expectUserError(await cli(["sync", id, "views", "--out", "/dev/full", "--sandbox"], { env }), /no space left/i)
  })

  it("KEYWAY_HOME that is a regular file", async () => {
    expectUserError(
      await cli(["connections"], { env: { KEYWAY_HOME: join(home, "keyway.sqlite") } }),
      /KEYWAY_HOME .* is not a folder/,
    )
  })

  it("KEYWAY_HOME under /sys or /proc (where creating a folder can hang)", async () => {
    expectUserError(await cli(["connections"], { env: { KEYWAY_HOME: "/sys/keyway" } }), /KEYWAY_HOME .*\/sys/)
    expectUserError(await cli(["connections"], { env: { KEYWAY_HOME: "/proc/self/keyway" } }), /KEYWAY_HOME .*\/proc/)
  })

  it("a garbage keyway.sqlite", async () => {
    const garbage = mkdtempSync(join(tmpdir(), "keyway-garbage-"))
    writeFileSync(join(garbage, "keyway.sqlite"), "this is not a database, it is a poem")
    expectUserError(
      await cli(["connections"], { env: { KEYWAY_HOME: garbage } }),
      /keyway\.sqlite is not a Keyway store/,
    )
  })

  it("a stored record with credentials: null, and one that is not JSON, are named while the others are listed", async () => {
    const keyway = createKeyway({ store: { home, url: undefined, workspace: "default" }, env: {} })
    try {
      await keyway.run(
        Effect.gen(function* () {
          const store = yield* Store
          const good = yield* store.get(id)
          if (!good) throw new Error("the saved connection is missing")
          yield* store.put({
            ...good,
            id: "con_brokenbrokenbrok",
            credentials: null as never,
            fingerprints: null as never,
          })
        }),
      )
    } finally {
      await keyway.close()
    }
    const sqlite3 = (await import("sqlite3")).default
    const db = new sqlite3.Database(join(home, "keyway.sqlite"))
    await new Promise<void>((resolve, reject) =>
      db.run(
        "INSERT INTO keyv(key, value) VALUES (?, ?)",
        ["keyway-default:con_notjsonnotjsonno", "{not json"],
        (e: Error | null) => (e ? reject(e) : resolve()),
      ),
    )
    await new Promise<void>((resolve) => db.close(() => resolve()))
    const listed = await cli(["connections"], { env })
    expect(listed.stdout).toContain(id)
    expect(listed.stderr).toMatch(/con_brokenbrokenbrok/)
    expect(listed.stderr).toMatch(/con_notjsonnotjsonno/)
    expect(listed.stderr).not.toMatch(/bug in Keyway/)
    const tested = await cli(["connections", "test", "con_brokenbrokenbrok", "--sandbox"], { env })
    expect(tested.code).toBe(2)
    expect(tested.stderr).not.toMatch(/bug in Keyway/)
  })

  it("sandbox --port 99999, and a port already in use", async () => {
    expectUserError(await cli(["sandbox", "--port", "99999"]), /--port .* 65535/)
    const port = new URL(sandbox.url).port
    expectUserError(await cli(["sandbox", "--port", port]), /port \d+ is in use/)
  })

  it("a malformed KEYWAY_STORE, and an invalid workspace name", async () => {
    expectUserError(await cli(["connections"], { env: { ...env, KEYWAY_STORE: "redis//nope" } }), /KEYWAY_STORE/)
    expectUserError(await cli(["connections", "--workspace", "no spaces"], { env }), /workspace name/)
  })

  it("a credential with a character that cannot go in a header", async () => {
    expectUserError(
      await cli(["connect", "peopletray", "--sandbox"], {
        env,
        stdin: JSON.stringify({ apiKey: "sandbox-valid\u0100x" }),
      }),
      /credentials\.apiKey .*character/,
    )
  })
})
