// One contender of bench/save-and-test-sequential.ts, alone in its own process, from the bundled dist/ (no tsx):
// N sequential checks against the minimal server; prints each check's wall time, the CPU time and
// the peak RSS as one JSON line.
import { keywayChecker, undiciClient } from "./contenders.mjs"

const [contender, origin, n] = process.argv.slice(2)
const N = Number(n)
const today = new Date().toISOString().slice(0, 10)
const week = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10)

let check
let close
if (contender === "keyway") {
  const keyway = await keywayChecker(origin)
  check = () => keyway.check("activtrak", { apiKey: "sandbox-valid" })
  close = keyway.close
} else {
  const client = await undiciClient()
  const url = `${origin}/activtrak/reports/v2/workinghours/users?from=${week}&to=${today}&pageSize=1`
  check = async () => {
    const response = await client.request(url, { headers: { "x-api-key": "sandbox-valid" } })
    const body = await response.body.json()
    if (response.statusCode !== 200 || !Array.isArray(body.activity)) throw new Error("unexpected answer")
  }
  close = client.close
}

// Warm-up: V8 compiles the hot paths while the first thousands of checks run (with the server on the
// same 2 cores, that doubled Keyway's median and made its tail); a long-running process is past that.
const WARM_UP = Number(process.env.WARM_UP ?? N)
for (let i = 0; i < WARM_UP; i++) await check()
const times = new Float64Array(N)
const cpuBefore = process.cpuUsage()
const started = process.hrtime.bigint()
for (let i = 0; i < N; i++) {
  const at = process.hrtime.bigint()
  await check()
  times[i] = Number(process.hrtime.bigint() - at) / 1000
}
const wallUs = Number(process.hrtime.bigint() - started) / 1000
const cpu = process.cpuUsage(cpuBefore)
await close()
times.sort()
const at = (q) => times[Math.min(N - 1, Math.floor(q * N))]
console.log(
  JSON.stringify({
    contender,
    checks: N,
    wallUs,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    overOneMs: times.filter((t) => t > 1000).length / N,
    cpuUsPerCheck: (cpu.user + cpu.system) / N,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  }),
)
