// One contender of bench/sync-throughput.ts, alone in its own process, from the bundled dist/: a
// one-day warm-up, then every record of the month to /dev/null as NDJSON. Prints the time, the
// records and the peak RSS as one JSON line.
import { mkdtempSync, openSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const [contender, sandboxUrl, recordsArg] = process.argv.slice(2)
const key = `sandbox-records-${recordsArg}`
const FROM = "2026-01-01"
const TO = "2026-01-31"
const PAGE = 1000

let pull
let close = async () => {}
if (contender === "keyway") {
  const { createKeyway, fileSink } = await import("../../dist/library/index.js")
  const keyway = createKeyway({
    sandboxUrl,
    store: { home: mkdtempSync(join(tmpdir(), "keyway-bench-sync-")), url: undefined, workspace: "bench" },
    env: {},
  })
  const { connection } = await keyway.connect({ connectorId: "activtrak", credentials: { apiKey: key } })
  pull = async (from, to) =>
    (
      await keyway.sync({
        connectionId: connection.id,
        streamId: "workingHoursUsers",
        from,
        to,
        openSink: () => fileSink("/dev/null"),
      })
    ).records
  close = () => keyway.close()
} else {
  const { Agent, request } = await import("undici")
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 })
  const devNull = openSync("/dev/null", "w")
  pull = async (from, to) => {
    let count = 0
    for (let page = 1; ; page++) {
      const response = await request(
        `${sandboxUrl}/activtrak/reports/v2/workinghours/users?from=${from}&to=${to}&page=${page}&pageSize=${PAGE}`,
        { dispatcher: agent, headers: { "x-api-key": key, accept: "application/json" } },
      )
      const body = JSON.parse(await response.body.text())
      let lines = ""
      for (const record of body.activity) lines += `{"stream":"workingHoursUsers","record":${JSON.stringify(record)}}\n`
      writeSync(devNull, lines)
      count += body.activity.length
      if (body.activity.length === 0 || count >= body.total) return count
    }
  }
  close = () => agent.close()
}

await pull(FROM, FROM) // warm-up: one day
const started = performance.now()
const units = await pull(FROM, TO)
const ms = performance.now() - started
await close()
console.log(JSON.stringify({ ms, units, peakRssMb: process.resourceUsage().maxRSS / 1024 }))
