/**
 * save-and-test-concurrent: N save & test checks at CONCURRENCY at once, spread over the four
 * connectors, against raw undici.request sending the same requests (ActivityInfo's token-scope probe
 * included). The target is a minimal node:http server answering each path with the body the sandbox's
 * fake gave it once, so the fakes' own time is not measured. Each contender runs alone in its own
 * process from the bundled dist/, RUNS times; reports throughput, CPU time per check, peak RSS, and the open descriptors
 * after each run (sockets included), which must not grow.
 *
 *   npm run bench -- save-and-test-concurrent        (N=20000, CONCURRENCY=100, RUNS=5)
 */
import { request } from "undici"
import { startSandbox } from "../runner/sandbox/server.ts"
import { compareInProcesses, type ProcessRun, report, spread } from "./harness.ts"
import { type Answer, startMinimalServer } from "./support/minimal-server.ts"

const N = Number(process.env.N ?? 20_000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 100)
// Five runs, not three: this ratio moves with the machine more than the others (bench/README.md).
const RUNS = Math.max(1, Number(process.env.RUNS ?? 5))
const today = new Date().toISOString().slice(0, 10)

/** The same requests Keyway sends for each connector's check, as paths under the sandbox's URL. */
const CHECKS = [
  {
    connector: "activtrak",
    credentials: { apiKey: "sandbox-valid" },
    paths: [`/activtrak/reports/v2/workinghours/users?from=${today}&to=${today}&pageSize=1`],
    headers: { "x-api-key": "sandbox-valid" },
  },
  {
    connector: "activityinfo",
    credentials: { apiToken: "sandbox-readonly" },
    // The test request, then Keyway's token-scope probe.
    paths: ["/activityinfo/resources/databases", "/activityinfo/resources/accounts/tokens"],
    headers: { authorization: "Bearer sandbox-readonly" },
  },
  {
    connector: "peopletray",
    credentials: { apiKey: "sandbox-valid" },
    paths: ["/peopletray/api/v2/powerbi/people"],
    headers: { "x-api-key": "sandbox-valid" },
  },
  {
    connector: "trackvia",
    credentials: { apiKey: "sandbox-valid", authToken: "sandbox-valid" },
    paths: ["/trackvia/openapi/views?user_key=sandbox-valid"],
    headers: { authorization: "Bearer sandbox-valid" },
  },
]

// Each path's answer, recorded once from the fakes.
const answers = new Map<string, Answer>()
const sandbox = await startSandbox({ records: 1 })
try {
  for (const check of CHECKS) {
    for (const path of check.paths) {
      const response = await request(`${sandbox.url}${path}`, { headers: check.headers })
      answers.set(path.split("?")[0] as string, { status: response.statusCode, body: await response.body.text() })
    }
  }
} finally {
  await sandbox.stop()
}

interface Run extends ProcessRun {
  readonly cpuUsPerCheck: number
  readonly openDescriptors: number
}
const server = await startMinimalServer(answers)
try {
  const args = (contender: string) => [contender, server.origin, String(N), String(CONCURRENCY), JSON.stringify(CHECKS)]
  const { stats, runs } = await compareInProcesses<Run>(
    new URL("./support/concurrent-child.mjs", import.meta.url),
    [
      { name: "keyway save & test", args: args("keyway") },
      { name: "raw undici.request", args: args("undici") },
    ],
    RUNS,
  )
  const [keyway, undici] = stats
  report("save-and-test-concurrent", stats, {
    checks: N,
    concurrency: CONCURRENCY,
    runs: RUNS,
    throughputRatioToUndici:
      keyway && undici ? Number((keyway.unitsPerSecond / undici.unitsPerSecond).toFixed(2)) : null,
    // Both processes share 2 cores with the server, so throughput moves with the machine; CPU per check less so.
    cpuUsPerCheck: Object.fromEntries(
      [...runs].map(([name, done]) => [name, spread(done.map((r) => r.cpuUsPerCheck))]),
    ),
    peakRssMb: Object.fromEntries([...runs].map(([name, done]) => [name, spread(done.map((r) => r.peakRssMb))])),
    openDescriptorsAfterEachRun: Object.fromEntries(
      [...runs].map(([name, done]) => [name, done.map((r) => r.openDescriptors)]),
    ),
  })
} finally {
  await server.close()
}
