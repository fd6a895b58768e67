// One contender of bench/serve-save-and-test.ts, alone in its own process, from the bundled dist/:
//   library <sandboxUrl> <N>  N sequential `keyway.connect` calls, each saved into SQLite under a fresh home
//   api <sandboxUrl> <N>      `keyway serve --sandbox` started as its own process (KEYWAY_SANDBOX_URL, a fresh
//                             home, no rate limit in the way), and N sequential `POST /v1/connections` from here
//   plain <sandboxUrl> <N>    the same from here, to plain-serve.mjs: node:http over the library, the floor
//                             under any HTTP layer
// Both save the same activtrak key against the same sandbox process. Prints each check's wall time
// (p50/p90/p99, µs), the CPU per check of the process doing the work (the library's, or the server's),
// that process's peak RSS, and how many vendor requests a check made (the two must match), as one JSON line.
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  benchEnv,
  createWorkspaceKey,
  postConnection,
  startServe,
  startServerProcess,
  stopServerProcess,
} from "./cli-server.mjs"

const [contender, sandboxUrl, n] = process.argv.slice(2)
const N = Number(n)
// Twice the measured checks: the JIT takes a few thousand checks to settle. Timed from fresh processes, the
// server's CPU per check fell from 2.7 ms to 1.2 ms over its first 3,000, and the library's from 1.4 to
// 0.5 ms; a warm-up of N/4 timed both while they were still compiling, the library the less so.
const WARM_UP = Number(process.env.WARM_UP ?? 2 * N)
const home = mkdtempSync(join(tmpdir(), `keyway-bench-serve-${contender}-`))

/** A process's CPU time so far (user + system), in µs, and its peak resident set, from /proc. */
const procStats = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15 of stat(5))
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return { cpuUs: (ticks * 1_000_000) / 100, peakRssMb: Number(hwm?.[1] ?? Number.NaN) / 1024 }
}
const ownStats = () => {
  const usage = process.resourceUsage()
  return { cpuUs: usage.userCPUTime + usage.systemCPUTime, peakRssMb: usage.maxRSS / 1024 }
}

/** Each contender's check answers the vendor requests it made, so the two can be seen to do the same work. */
let check
let stats
let close
if (contender === "library") {
  const { createKeyway } = await import("../../dist/library/index.js")
  const keyway = createKeyway({ sandboxUrl, store: { home, url: undefined, workspace: "bench" }, env: {} })
  check = async () => {
    const result = await keyway.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
    if (!result.saved || result.result.verdict.outcome !== "connected") {
      throw new Error(`keyway.connect: ${result.result.verdict.outcome}`)
    }
    return result.result.attempts.length
  }
  stats = ownStats
  close = () => keyway.close()
} else if (contender === "plain") {
  const server = await startServerProcess(new URL("./plain-serve.mjs", import.meta.url).pathname, [sandboxUrl, home])
  const { Agent } = await import("undici")
  const agent = new Agent({ keepAliveTimeout: 30_000 })
  check = async () => (await postConnection(server.url, "unused", agent)).result.attempts.length
  stats = () => procStats(server.child.pid)
  close = async () => {
    await agent.close()
    await stopServerProcess(server.child)
  }
} else {
  const env = benchEnv(home, { KEYWAY_SANDBOX_URL: sandboxUrl })
  const key = await createWorkspaceKey(env, "bench")
  const server = await startServe(env)
  const { Agent } = await import("undici")
  const agent = new Agent({ keepAliveTimeout: 30_000 })
  check = async () => (await postConnection(server.url, key, agent)).result.attempts.length
  stats = () => procStats(server.child.pid)
  close = async () => {
    await agent.close()
    await stopServerProcess(server.child)
  }
}

let requestsPerCheck = 0
for (let i = 0; i < WARM_UP; i++) requestsPerCheck = await check()
const times = new Float64Array(N)
const before = stats()
const started = performance.now()
for (let i = 0; i < N; i++) {
  const at = performance.now()
  await check()
  times[i] = (performance.now() - at) * 1000
}
const ms = performance.now() - started
const after = stats()
await close()
rmSync(home, { recursive: true, force: true })
times.sort()
const at = (q) => Math.round(times[Math.min(N - 1, Math.floor(q * N))])
console.log(
  JSON.stringify({
    contender,
    ms,
    units: N,
    p50Us: at(0.5),
    p90Us: at(0.9),
    p99Us: at(0.99),
    cpuUsPerCheck: Math.round((after.cpuUs - before.cpuUs) / N),
    peakRssMb: Number(after.peakRssMb.toFixed(1)),
    requestsPerCheck,
    warmUpChecks: WARM_UP,
  }),
)
