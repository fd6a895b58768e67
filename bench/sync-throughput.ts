/**
 * sync-throughput: pull 1,000,000 ActivTrak working-hours records (1,000 per page) from the sandbox
 * (in its own process) to /dev/null as NDJSON, with `keyway sync`'s runner, against a baseline of
 * plain `undici.request` + `JSON.parse` doing the same paging and writing the same NDJSON lines. Each
 * contender runs alone in its own process from the bundled dist/, RUNS times, so its peak RSS is its own.
 *
 *   npm run bench -- sync-throughput        (RECORDS=1000000, RUNS=5)
 */
import { compareInProcesses, report, spread } from "./harness.ts"
import { startSandboxProcess } from "./support/sandbox-process.ts"

const RECORDS = Number(process.env.RECORDS ?? 1_000_000)
// Five runs, not three: this ratio moves with the machine more than the others (bench/README.md).
const RUNS = Math.max(1, Number(process.env.RUNS ?? 5))

const sandbox = await startSandboxProcess()
try {
  const args = (contender: string) => [contender, sandbox.url, String(RECORDS)]
  const { stats, runs } = await compareInProcesses(
    new URL("./support/sync-child.mjs", import.meta.url),
    [
      { name: "keyway sync", args: args("keyway") },
      { name: "undici + JSON.parse", args: args("undici") },
    ],
    RUNS,
  )
  const [keyway, undici] = stats
  report("sync-throughput", stats, {
    records: RECORDS,
    pageSize: 1000,
    runs: RUNS,
    throughputRatioToUndici:
      keyway && undici ? Number((keyway.unitsPerSecond / undici.unitsPerSecond).toFixed(2)) : null,
    peakRssMb: Object.fromEntries([...runs].map(([name, done]) => [name, spread(done.map((r) => r.peakRssMb))])),
  })
} finally {
  sandbox.child.kill()
}
