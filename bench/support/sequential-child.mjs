// One contender of bench/save-and-test-sequential.ts, alone in its own process, from the bundled dist/ (no tsx):
// N sequential checks against the minimal server; prints each check's wall time, the CPU time and
// the peak RSS as one JSON line.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const [contender, origin, n] = process.argv.slice(2)
const N = Number(n)
const today = new Date().toISOString().slice(0, 10)
const week = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10)

let check
let close = async () => {}
if (contender === "keyway") {
  const { createKeyway } = await import("../../dist/library/index.js")
  const keyway = createKeyway({
    sandboxUrl: origin,
    store: { home: mkdtempSync(join(tmpdir(), "keyway-overhead-")), url: undefined },
    env: {},
  })
  check = async () => {
    const result = await keyway.test({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
    if (result.verdict.outcome !== "connected") throw new Error(`unexpected ${result.verdict.outcome}`)
  }
  close = () => keyway.close()
} else {
  const { Agent, request } = await import("undici")
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 })
  const url = `${origin}/activtrak/reports/v2/workinghours/users?from=${week}&to=${today}&pageSize=1`
  check = async () => {
    const response = await request(url, { dispatcher: agent, headers: { "x-api-key": "sandbox-valid" } })
    const body = await response.body.json()
    if (response.statusCode !== 200 || !Array.isArray(body.activity)) throw new Error("unexpected answer")
  }
  close = () => agent.close()
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
