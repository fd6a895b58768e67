/**
 * Where an API save & test's time goes, beyond the library's: the parts of `POST /v1/connections`
 * timed one by one, interleaved, with one in-process `serve()` and its sandbox (the library gets that
 * sandbox's URL, as in serve-save-and-test). It also counts the SQLite queries each side sends per
 * check. This is a diagnosis, not a benchmark: it is not in `npm run bench`.
 *
 *   node --import tsx bench/support/serve-breakdown.ts        (M=2000 samples of each part)
 */
import { execFileSync } from "node:child_process"
import { subscribe, unsubscribe } from "node:diagnostics_channel"
import { mkdtempSync, rmSync } from "node:fs"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import sqlite3 from "sqlite3"
import { Agent, request } from "undici"
import { loadCatalog } from "../../runner/catalog/load-now.ts"
import { createKeyway } from "../../runner/library/index.ts"
import { CheckResult, Connection, CreateConnection } from "../../runner/server/api.ts"
import { serve } from "../../runner/server/serve.ts"
import { DEFAULT_LIMITS, makeLimiter } from "../../runner/server/service.ts"
import { firstEvent, openServiceState } from "../../runner/server/state.ts"
import type { ConnectionRecord } from "../../runner/vault/store.ts"

const M = Number(process.env.M ?? 2000)
const BIN = new URL("../../bin/keyway.js", import.meta.url).pathname
const BODY = JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-valid" } })
const homes = Array.from({ length: 3 }, () => mkdtempSync(join(tmpdir(), "keyway-breakdown-")))
const [apiHome, libraryHome, stateHome] = homes as [string, string, string]

// Every SQLite query goes through Database#all (@keyv/sqlite promisifies it when a store opens).
const queries = new Map<string, number>()
const prototype = sqlite3.Database.prototype as unknown as { all: (...args: unknown[]) => unknown }
const all = prototype.all
prototype.all = function (this: unknown, ...args: unknown[]) {
  const sql = String(args[0]).split(" ").slice(0, 2).join(" ")
  const key = String(args[1])
    .replace(/con_[0-9a-f]+/, "con_…")
    .replace(/[0-9a-f]{64}/, "<sha256>")
  const label = `${sql} ${key.replace(/^keyway-[^:]+:/, "")}`
  queries.set(label, (queries.get(label) ?? 0) + 1)
  return all.apply(this, args)
}

const apiKey = JSON.parse(
  execFileSync(process.execPath, [BIN, "workspaces", "create", "bench", "--json"], {
    env: { ...process.env, KEYWAY_HOME: apiHome },
  }).toString(),
).key as string
const definitions = loadCatalog()
const scope = Effect.runSync(Scope.make())
const { url } = await Effect.runPromise(
  Scope.extend(
    serve({
      port: 0,
      host: "127.0.0.1",
      definitions,
      store: { home: apiHome, url: undefined, workspace: "default" },
      env: { KEYWAY_HOME: apiHome },
      sandbox: true,
      limits: { checksPerWorkspacePerMinute: 1_000_000_000 },
    }),
    scope,
  ),
)
const agent = new Agent({ keepAliveTimeout: 30_000 })
const post = async (body: string) => {
  const response = await request(`${url}/v1/connections`, {
    method: "POST",
    dispatcher: agent,
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body,
  })
  return { status: response.statusCode, text: await response.body.text() }
}

// The sandbox serve started: the one other loopback server that answers during an API check.
const ports = new Set<number>()
const onRequest = (message: unknown) =>
  ports.add(((message as { server: Server }).server.address() as AddressInfo).port)
subscribe("http.server.request.start", onRequest)
const sample = await post(BODY)
unsubscribe("http.server.request.start", onRequest)
if (sample.status !== 201) throw new Error(`POST /v1/connections answered ${sample.status}: ${sample.text}`)
const sandboxPort = [...ports].find((port) => port !== Number(new URL(url).port))
const keyway = createKeyway({
  definitions: definitions.values(),
  sandboxUrl: `http://127.0.0.1:${sandboxPort}`,
  store: { home: libraryHome, url: undefined, workspace: "bench" },
  env: {},
})

// The service's own calls, over a state of their own, to time them alone.
const stateScope = Effect.runSync(Scope.make())
const state = await Effect.runPromise(
  Scope.extend(openServiceState({ home: stateHome, url: undefined, workspace: "default" }), stateScope),
)
const stateKey = await Effect.runPromise(state.createWorkspaceKey("bench"))
const limiter = await makeLimiter({ ...DEFAULT_LIMITS, checksPerWorkspacePerMinute: 1_000_000_000 })
const Checked = Schema.Struct({ connection: Connection, result: CheckResult })
const answer = Schema.decodeUnknownSync(Checked)(JSON.parse(sample.text))
const encodeAnswer = Schema.encodeSync(Checked)
const decodePayload = Schema.decodeUnknownSync(CreateConnection)
const store = state.storeFor("bench")
let records = 0
const sampleRecord = (): ConnectionRecord => {
  const at = new Date().toISOString()
  // The shape and size of a saved activtrak connection; the sealed fields are stand-ins of their length.
  return {
    v: 1,
    id: `con_${(records++).toString(16).padStart(16, "0")}`,
    workspace: "bench",
    connector: "activtrak",
    label: "ActivTrak …alid",
    settings: {},
    credentials: {
      v: 2,
      alg: "aes-256-gcm",
      kid: "k".repeat(16),
      iv: "i".repeat(16),
      tag: "t".repeat(22),
      data: "d".repeat(44),
    },
    fingerprints: { apiKey: "…alid" },
    createdAt: at,
    updatedAt: at,
    lastTest: { at, by: "save & test", verdict: answer.result.verdict },
    expiresAt: undefined,
  } as ConnectionRecord
}
const createdEvent = {
  type: "created",
  at: new Date().toISOString(),
  by: "api",
  code: "connected",
  message: "Connected: the vendor accepted the credentials.",
} as const

const parts: Record<string, () => Promise<unknown>> = {
  "API POST /v1/connections (201)": () => post(BODY),
  "library keyway.connect": () =>
    keyway.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } }),
  "library keyway.test (the check alone)": () =>
    keyway.test({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } }),
  "API POST, unknown connector (404)": () => post(JSON.stringify({ connector: "nope", credentials: { apiKey: "x" } })),
  "API GET / (HTTP round trip, no API)": async () => {
    const response = await request(`${url}/`, { dispatcher: agent })
    return response.body.text()
  },
  "state.workspaceOfKey (authorization)": () => Effect.runPromise(state.workspaceOfKey(stateKey)),
  // The audit's "created" event goes in the same write as the connection's record: its cost is the difference.
  "store.put: a record alone": () => Effect.runPromise(store.put(sampleRecord())),
  "store.put: a record and its created event, one write": () => {
    const record = sampleRecord()
    return Effect.runPromise(store.put(record, firstEvent(record.id, createdEvent)))
  },
  "takeCheck (rate limit)": () => Effect.runPromise(limiter.take("bench")),
  "payload decode + answer encode + JSON": async () => {
    decodePayload(JSON.parse(BODY))
    return JSON.stringify(encodeAnswer(answer))
  },
}

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[values.length >> 1] as number
try {
  const times = new Map<string, number[]>(Object.keys(parts).map((name) => [name, []]))
  const warmup = Math.round(M / 4)
  for (let i = 0; i < warmup + M; i++) {
    for (const [name, part] of Object.entries(parts)) {
      const started = performance.now()
      await part()
      if (i >= warmup) times.get(name)?.push(performance.now() - started)
    }
  }
  console.table([...times].map(([part, samples]) => ({ part, "median ms": median(samples).toFixed(3) })))

  const perCheck = async (check: () => Promise<unknown>) => {
    queries.clear()
    for (let i = 0; i < 100; i++) await check()
    return Object.fromEntries([...queries].map(([query, count]) => [query, count / 100]))
  }
  console.log("SQLite queries per API check:", await perCheck(() => post(BODY)))
  console.log(
    "SQLite queries per library connect:",
    await perCheck(parts["library keyway.connect"] as () => Promise<unknown>),
  )
} finally {
  prototype.all = all
  await keyway.close()
  await agent.close()
  await Effect.runPromise(Scope.close(stateScope, Exit.void))
  await limiter.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  for (const home of homes) rmSync(home, { recursive: true, force: true })
}
