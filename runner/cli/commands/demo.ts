/**
 * `keyway demo` (`npm start`): Keyway's main job with no setup and no real keys. It starts the
 * sandbox, runs save & test for every connector with a valid key and a spread of failure scenarios,
 * saves the ones that pass in a throwaway store, and prints one table of outcomes.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import { formatProblem } from "../../../core/load.ts"
import { loadConnectorDir } from "../../catalog/catalog.ts"
import type { TestResult } from "../../check/check.ts"
import { createKeyway, runOrThrow, runPlain } from "../../library/index.ts"
import { startSandbox } from "../../sandbox/server.ts"
import { writableSink } from "../../sync/sinks.ts"
import { runSync } from "../../sync/sync.ts"
import { connect } from "../../vault/connections.ts"
import { loadKeyring } from "../../vault/sealing.ts"
import { openStore } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, printJson, table } from "../io.ts"

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

export const run = async (_args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const loaded = loadConnectorDir()
  const problems = loaded.flatMap((r) => r.problems)
  for (const problem of problems) io.err(`${formatProblem(problem)}\n`)
  const definitions = loaded.flatMap((r) => (r.definition ? [r.definition] : []))
  if (!io.json) io.out(`${definitions.length} connector definitions valid. Starting the sandbox...\n\n`)

  const sandbox = await startSandbox()
  const home = mkdtempSync(join(tmpdir(), "keyway-demo-"))
  // A short headers timeout, so the slow-server scenario shows a timeout without a long wait.
  const keyway = createKeyway({ sandboxUrl: sandbox.url, transport: { headersTimeoutMs: 2000 } })
  const store = await openStore({ home, url: undefined, workspace: "demo" })
  const vault = { store, keyring: loadKeyring(home, {}) }
  try {
    const rows = await Promise.all(
      definitions.flatMap((definition) =>
        SCENARIOS.map(async ([scenario, key]) => {
          const input = { connectorId: definition.id, credentials: credentialsFor(definition.id, key), label: scenario }
          const { result, saved } = await runOrThrow(
            keyway.runtime,
            connect(definition, input, vault, { sandboxUrl: sandbox.url }),
          )
          return { connector: definition.name, scenario, saved, result }
        }),
      ),
    )
    const saved = (await runPlain(store.list())).length

    // A short sync: a saved ActivTrak connection pulls two weeks of working hours, page by page.
    const activtrak = definitions.find((d) => d.id === "activtrak")
    const { connection } = activtrak
      ? await runOrThrow(
          keyway.runtime,
          connect(
            activtrak,
            { connectorId: "activtrak", credentials: { apiKey: "sandbox-records-3000" }, label: "sync demo" },
            vault,
            {
              sandboxUrl: sandbox.url,
            },
          ),
        )
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
    const to = new Date().toISOString().slice(0, 10)
    const from = new Date(Date.now() - 13 * 86_400_000).toISOString().slice(0, 10)
    const summary = connection
      ? await runOrThrow(
          keyway.runtime,
          runSync(
            keyway.catalog,
            vault,
            { connectionId: connection.id, streamId: "workingHoursUsers", from, to, openSink: async () => counting },
            {
              sandboxUrl: sandbox.url,
            },
          ),
        )
      : undefined
    if (io.json) {
      printJson(io, { sandbox: sandbox.url, results: rows, savedConnections: saved, sync: summary })
      return EXIT.ok
    }
    const describeAttempts = (result: TestResult) =>
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
          row.result.outcome + (row.result.retryAfterSeconds ? ` (retry in ${row.result.retryAfterSeconds} s)` : ""),
          describeAttempts(row.result),
          row.result.message.length > 90 ? `${row.result.message.slice(0, 89)}…` : row.result.message,
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
  } finally {
    await store.close()
    await keyway.close()
    await sandbox.stop()
    rmSync(home, { recursive: true, force: true })
  }
}
