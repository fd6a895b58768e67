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
import { ENGINE_DEFAULTS } from "../core/defaults.ts"
import { makeAgent } from "../runner/http/transport.ts"
import { createKeyway, fileSink } from "../runner/library/index.ts"
import { compare, report } from "./harness.ts"
import { startSandboxProcess } from "./support/sandbox-process.ts"

const RECORDS = Number(process.env.RECORDS ?? 1_000_000)
const PAGE = 1000
const FROM = "2026-01-01"
const TO = "2026-01-31"

const sandbox = await startSandboxProcess()
const home = mkdtempSync(join(tmpdir(), "keyway-bench-sync-"))
const keyway = createKeyway({ sandboxUrl: sandbox.url, store: { home, url: undefined, workspace: "bench" }, env: {} })
const agent: Agent = makeAgent(ENGINE_DEFAULTS.transport)
const key = `sandbox-records-${RECORDS}`
try {
  const { connection } = await keyway.connect({ connectorId: "activtrak", credentials: { apiKey: key } })
  const connectionId = connection?.id as string
  const devNull = openSync("/dev/null", "w")
  // A one-day range for the warm-up: the fake serves the same records, but it need not be timed in full.
  const keywaySync = async (from: string, to: string) =>
    (
      await keyway.sync({
        connectionId,
        streamId: "workingHoursUsers",
        from,
        to,
        openSink: () => fileSink("/dev/null"),
      })
    ).records

  const stats = await compare(
    [
      {
        name: "keyway sync",
        warmup: () => keywaySync("2026-01-01", "2026-01-01"),
        run: () => keywaySync(FROM, TO),
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
  await keyway.close()
  await agent.destroy()
  sandbox.child.kill()
}
