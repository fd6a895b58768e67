// One contender of bench/serve-save-and-test.ts, alone in its own process, from the bundled dist/:
//   library <sandboxUrl> <N>  N sequential `keyway.connect` calls, each saved into SQLite under a fresh home
//   api <sandboxUrl> <N>      `keyway serve --sandbox` started as its own process (KEYWAY_SANDBOX_URL, a fresh
//                             home, no rate limit in the way), and N sequential `POST /v1/connections` from here
// Both save the same activtrak key against the same sandbox process. Prints each check's wall time
// (p50/p90/p99, µs), the CPU per check of the process doing the work (the library's, or the server's),
// and that process's peak RSS, as one JSON line.
import { execFile, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"

const [contender, sandboxUrl, n] = process.argv.slice(2)
const N = Number(n)
const WARM_UP = Number(process.env.WARM_UP ?? Math.max(1, Math.round(N / 4)))
const BIN = new URL("../../bin/keyway.js", import.meta.url).pathname
const home = mkdtempSync(join(tmpdir(), `keyway-bench-serve-${contender}-`))
const credentials = { apiKey: "sandbox-valid" }

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

let check
let stats
let close
if (contender === "library") {
  const { createKeyway } = await import("../../dist/library/index.js")
  const keyway = createKeyway({ sandboxUrl, store: { home, url: undefined, workspace: "bench" }, env: {} })
  check = async () => {
    const result = await keyway.connect({ connectorId: "activtrak", credentials })
    if (!result.saved || result.result.verdict.outcome !== "connected") {
      throw new Error(`keyway.connect: ${result.result.verdict.outcome}`)
    }
  }
  stats = ownStats
  close = () => keyway.close()
} else {
  const env = { ...process.env, KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandboxUrl }
  for (const name of ["KEYWAY_STORE", "KEYWAY_MASTER_KEY", "KEYWAY_PREVIOUS_MASTER_KEYS", "KEYWAY_WORKSPACE"]) {
    delete env[name]
  }
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, "workspaces", "create", "bench", "--json"], {
    env,
  })
  const key = JSON.parse(stdout).key
  const server = spawn(
    process.execPath,
    [BIN, "serve", "--sandbox", "--port", "0", "--json", "--quiet", "--checks-per-minute", "1000000000"],
    { env, stdio: ["ignore", "pipe", "inherit"] },
  )
  const url = await new Promise((resolve, reject) => {
    let output = ""
    server.stdout.on("data", (chunk) => {
      output += chunk.toString()
      const match = /"url": "([^"]+)"/.exec(output)
      if (match) resolve(match[1])
    })
    server.once("exit", (code) => reject(new Error(`keyway serve exited with ${code}`)))
  })
  const { Agent, request } = await import("undici")
  const agent = new Agent({ keepAliveTimeout: 30_000 })
  const body = JSON.stringify({ connector: "activtrak", credentials })
  check = async () => {
    const response = await request(`${url}/v1/connections`, {
      method: "POST",
      dispatcher: agent,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json" },
      body,
    })
    const answer = await response.body.json()
    if (response.statusCode !== 201 || !answer.connection?.id) {
      throw new Error(`POST /v1/connections answered ${response.statusCode}: ${JSON.stringify(answer).slice(0, 300)}`)
    }
  }
  stats = () => procStats(server.pid)
  close = async () => {
    await agent.close()
    const exited = new Promise((resolve) => server.once("exit", resolve))
    server.kill("SIGTERM")
    await exited
  }
}

for (let i = 0; i < WARM_UP; i++) await check()
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
  }),
)
