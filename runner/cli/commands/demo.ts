/**
 * `keyway demo` (`npm start`): Keyway's main job with no setup and no real keys. It starts the
 * sandbox, runs save & test for every connector with a valid key and a spread of failure scenarios,
 * saves the ones that pass in a throwaway store, and prints one table of outcomes.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ConnectorDefinition } from "../../../core/definition.ts"
import { formatProblem } from "../../../core/problem.ts"
import { catalogFromDir, connectorsDir, loadConnectorDir } from "../../catalog/catalog.ts"
import type { CheckResult } from "../../check/check.ts"
import { engineLayer } from "../../http/engine.ts"
import { transportLayer } from "../../http/transport.ts"
import { sandboxLayer } from "../../sandbox/layer.ts"
import { derivedFakeScenarios } from "../../sandbox/scenarios.ts"
import { SANDBOX_VENDORS } from "../../sandbox/server.ts"
import { writableSink } from "../../sync/sinks.ts"
import { runSync } from "../../sync/sync.ts"
import { connect } from "../../vault/connections.ts"
import { keyringLayer } from "../../vault/sealing.ts"
import { Store, storeLayer } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, type OptionSpecs, printJson, table } from "../io.ts"
import type { CommandRun } from "../main.ts"

const SCENARIOS = [
  ["valid key", "sandbox-valid"],
  ["invalid key", "sandbox-invalid"],
  ["expired key", "sandbox-expired"],
  ["plan or role", "sandbox-plan"],
  ["IP not allowed", "sandbox-ip-blocked"],
  ["throttled, then ok", "sandbox-429-retry-after-1-demo"],
  ["throttled past budget", "sandbox-429-always"],
  ["slow server", "sandbox-slow-4000"],
  ["HTML instead of JSON", "sandbox-html"],
] as const

/** The credential a scenario key goes in; TrackVia's scenario is its auth token. */
const credentialsFor = (connector: string, key: string): Record<string, string> => {
  if (connector === "activityinfo") return { apiToken: key }
  if (connector === "trackvia") return { apiKey: "sandbox-valid", authToken: key }
  return { apiKey: key }
}

/** A throwaway home for the demo's store and key, removed when the demo ends. */
const throwawayHome = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "keyway-demo-"))),
  (home) => Effect.sync(() => rmSync(home, { recursive: true, force: true })),
)

/**
 * Each connector's scenarios: every failure scenario for a vendor with a hand-written fake, and a valid
 * and an invalid key for one served by a fake derived from its definition (a `keyway new` scaffold).
 */
const scenariosFor = (definition: ConnectorDefinition) =>
  definition.id in SANDBOX_VENDORS
    ? SCENARIOS.map(([scenario, key]) => ({ scenario, credentials: credentialsFor(definition.id, key), settings: {} }))
    : derivedFakeScenarios(definition)

const demo = (io: Io, dir: string) =>
  Effect.gen(function* () {
    const loaded = yield* loadConnectorDir(dir)
    for (const problem of loaded.flatMap((r) => r.problems)) io.err(`${formatProblem(problem)}\n`)
    const definitions = loaded.flatMap((r) => (r.definition ? [r.definition] : []))
    if (!io.json) io.out(`${definitions.length} connector definitions valid. Starting the sandbox...\n\n`)

    const rows = yield* Effect.forEach(
      definitions.flatMap((definition) => scenariosFor(definition).map((scenario) => ({ definition, ...scenario }))),
      ({ definition, scenario, credentials, settings }) =>
        Effect.map(
          connect(definition, {
            connectorId: definition.id,
            credentials,
            settings,
            label: scenario,
          }),
          ({ result, saved }) => ({ connector: definition.name, scenario, saved, result }),
        ),
      { concurrency: "unbounded" },
    )
    const store = yield* Store
    const saved = (yield* store.list()).records.length

    // A short sync: a saved ActivTrak connection pulls two weeks of working hours, page by page.
    const activtrak = definitions.find((d) => d.id === "activtrak")
    const { connection } = activtrak
      ? yield* connect(activtrak, {
          connectorId: "activtrak",
          credentials: { apiKey: "sandbox-records-3000" },
          label: "sync demo",
        })
      : { connection: undefined }
    let lines = 0
    const counting = writableSink(
      new Writable({
        write: (chunk: Buffer, _encoding, done) => {
          lines += chunk.toString().split("\n").length - 1
          done()
        },
      }),
      "a line counter",
    )
    const today = yield* Clock.currentTimeMillis
    const to = new Date(today).toISOString().slice(0, 10)
    const from = new Date(today - 13 * 86_400_000).toISOString().slice(0, 10)
    const summary = connection
      ? yield* runSync({
          connectionId: connection.id,
          streamId: "workingHoursUsers",
          from,
          to,
          openSink: async () => counting,
        })
      : undefined
    if (io.json) {
      printJson(io, { results: rows, savedConnections: saved, sync: summary })
      return EXIT.ok
    }
    const describeAttempts = (result: CheckResult) =>
      result.attempts
        .map((a) =>
          a.waitMs !== undefined
            ? `${a.status ?? a.error} +${(a.waitMs / 1000).toFixed(1)}s`
            : String(a.status ?? a.error),
        )
        .join(" ")
    io.out(
      `${table([
        ["CONNECTOR", "SCENARIO", "OUTCOME", "ATTEMPTS", "MESSAGE"],
        ...rows.map((row) => [
          row.connector,
          row.scenario,
          row.result.verdict.outcome +
            (row.result.verdict.retryAfterSeconds ? ` (retry in ${row.result.verdict.retryAfterSeconds} s)` : ""),
          describeAttempts(row.result),
          row.result.verdict.message.length > 90
            ? `${row.result.verdict.message.slice(0, 89)}…`
            : row.result.verdict.message,
        ]),
      ])}\n\n`,
    )
    io.out(`${saved} connections passed and were saved, encrypted (AES-256-GCM), in a throwaway store.\n\n`)
    if (summary) {
      io.out(
        `Sync: ActivTrak workingHoursUsers, ${from} to ${to}: ${summary.records.toLocaleString("en-US")} records ` +
          `(${lines.toLocaleString("en-US")} NDJSON lines) in ${summary.pages} pages, ${(summary.durationMs / 1000).toFixed(2)} s, ` +
          `checkpointed after every page; the next run picks up from ${summary.resumePoint}.\n\n`,
      )
    }
    io.out(
      "Try it yourself: npx keyway sandbox, npx keyway connect activtrak --sandbox, npx keyway sync <id> <stream> --sandbox.\n",
    )
    return EXIT.ok
  })

export const options = {} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = (_parsed, io) =>
  Effect.gen(function* () {
    const dir = connectorsDir(io.env)
    const home = yield* throwawayHome
    const services = Layer.mergeAll(
      // A short headers timeout, so the slow-server scenario shows a timeout without a long wait.
      engineLayer.pipe(Layer.provide(transportLayer({ headersTimeoutMs: 2000 }))),
      sandboxLayer(undefined),
      storeLayer({ home, url: undefined, workspace: "demo" }),
      keyringLayer(home, {}),
    ).pipe(Layer.provideMerge(catalogFromDir(dir)))
    return yield* demo(io, dir).pipe(Effect.provide(services))
  }).pipe(Effect.scoped)
