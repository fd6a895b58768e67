/**
 * sync-throughput: pull 1,000,000 ActivTrak working-hours records (1,000 per page) from the sandbox
 * to /dev/null as NDJSON, with `keyway sync`'s runner, against a baseline of plain `undici.request` +
 * `JSON.parse` doing the same paging and writing the same NDJSON lines. The sandbox runs in its own
 * process; both contenders run in this one, alternating.
 *
 *   npm run bench -- sync-throughput        (RECORDS=... to change the size)
 */
import { mkdtempSync, openSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Agent, request } from "undici"
import type { ConnectorDefinition } from "../core/definition.ts"
import { DEFAULT_TRANSPORT_OPTIONS, makeAgent } from "../runner/http/transport.ts"
import { createKeyway, runOrThrow } from "../runner/library/index.ts"
import { fileSink } from "../runner/sync/sinks.ts"
import { runSync } from "../runner/sync/sync.ts"
import { connect } from "../runner/vault/connections.ts"
import { loadKeyring } from "../runner/vault/sealing.ts"
import { openStore } from "../runner/vault/store.ts"
import { compare, report } from "./harness.ts"
import { startSandboxProcess } from "./support/sandbox-process.ts"

const RECORDS = Number(process.env.RECORDS ?? 1_000_000)
const PAGE = 1000
const FROM = "2026-01-01"
const TO = "2026-01-31"

const sandbox = await startSandboxProcess()
const home = mkdtempSync(join(tmpdir(), "keyway-bench-sync-"))
const keyway = createKeyway({ sandboxUrl: sandbox.url })
const vault = { store: await openStore({ home, url: undefined, workspace: "bench" }), keyring: loadKeyring(home) }
const agent: Agent = makeAgent(DEFAULT_TRANSPORT_OPTIONS)
const key = `sandbox-records-${RECORDS}`
try {
  const definition = keyway.catalog.get("activtrak") as ConnectorDefinition
  const { connection } = await runOrThrow(
    keyway.runtime,
    connect(definition, { connectorId: "activtrak", credentials: { apiKey: key } }, vault, { sandboxUrl: sandbox.url }),
  )
  const connectionId = connection?.id as string
  const devNull = openSync("/dev/null", "w")
  // A one-day range: the fake serves the same records, but the warm-up need not be timed in full.
  const keywaySync = async (from: string, to: string) =>
    (
      await runOrThrow(
        keyway.runtime,
        runSync(
          keyway.catalog,
          vault,
          { connectionId, streamId: "workingHoursUsers", from, to, openSink: () => fileSink("/dev/null") },
          { sandboxUrl: sandbox.url },
        ),
      )
    ).records

  const stats = await compare(
    [
      {
        name: "keyway sync",
        warmup: () => keywaySync("2026-01-01", "2026-01-01"),
        run: async () => {
          const summary = await runOrThrow(
            keyway.runtime,
            runSync(
              keyway.catalog,
              vault,
              {
                connectionId,
                streamId: "workingHoursUsers",
                from: FROM,
                to: TO,
                openSink: () => fileSink("/dev/null"),
              },
              { sandboxUrl: sandbox.url },
            ),
          )
          return summary.records
        },
      },
      {
        name: "undici + JSON.parse",
        run: async () => {
          let count = 0
          for (let page = 1; ; page++) {
            const response = await request(
              `${sandbox.url}/activtrak/reports/v2/workinghours/users?from=${FROM}&to=${TO}&page=${page}&pageSize=${PAGE}`,
              { dispatcher: agent, headers: { "x-api-key": key, accept: "application/json" } },
            )
            const body = JSON.parse(await response.body.text()) as { activity: unknown[]; total: number }
            let lines = ""
            for (const record of body.activity)
              lines += `{"stream":"workingHoursUsers","record":${JSON.stringify(record)}}\n`
            writeSync(devNull, lines)
            count += body.activity.length
            if (body.activity.length === 0 || count >= body.total) return count
          }
        },
      },
    ],
    { rounds: Number(process.env.ROUNDS ?? 2), warmup: 1 },
  )
  report("sync-throughput", stats, {
    records: RECORDS,
    pageSize: PAGE,
    benchProcessPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  })
} finally {
  await vault.store.close()
  await keyway.close()
  await agent.destroy()
  sandbox.child.kill()
}
