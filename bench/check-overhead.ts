/**
 * check-overhead: Keyway's own cost per save & test check, measured against a minimal loopback server
 * (plain node:http, one fixed small JSON answer), so the fake's time to answer hides nothing. Each
 * contender (Keyway from the bundled dist/, and raw undici.request) runs alone in its own child
 * process, RUNS times (3 by default), so its peak RSS is its own. Reports per check: p50, p90 and p99
 * wall time, the share over 1 ms, CPU time, and Keyway minus raw undici in microseconds.
 *
 *   npm run bench -- check-overhead        (N=5000 checks per run, RUNS=3; needs dist/, built by npm install)
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { report, type Stats } from "./harness.ts"

const N = Number(process.env.N ?? 5000)
const RUNS = Math.max(1, Number(process.env.RUNS ?? 3))
const CHILD = new URL("./support/overhead-child.mjs", import.meta.url).pathname
if (!existsSync(new URL("../dist/library/index.js", import.meta.url))) {
  console.error("check-overhead runs Keyway from dist/: run npm run build first")
  process.exit(2)
}

const ANSWER = JSON.stringify({ activity: [], total: 0 })
const server = createServer((_request, response) => {
  response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(ANSWER) })
  response.end(ANSWER)
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

interface Run {
  readonly contender: string
  readonly wallUs: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly overOneMs: number
  readonly cpuUsPerCheck: number
  readonly peakRssMb: number
}

/** CPU_PROF=<dir> writes a V8 CPU profile of each child there (`node --cpu-prof`), for bench/support/profile-summary.mjs. */
const profileFlags = (contender: string): string[] =>
  process.env.CPU_PROF
    ? ["--cpu-prof", "--cpu-prof-dir", process.env.CPU_PROF, "--cpu-prof-name", `${contender}-${Date.now()}.cpuprofile`]
    : []

const runChild = (contender: string): Promise<Run> =>
  new Promise((resolve, reject) => {
    // Asynchronously, so this process's server answers while the child runs.
    execFile(process.execPath, [...profileFlags(contender), CHILD, contender, origin, String(N)], (error, stdout) =>
      error ? reject(error) : resolve(JSON.parse(stdout.trim().split("\n").at(-1) as string) as Run),
    )
  })

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const runs: Record<string, Run[]> = { keyway: [], undici: [] }
// Alternating, so neither contender always runs on a warmer machine.
for (let i = 0; i < RUNS; i++)
  for (const contender of ["keyway", "undici"]) runs[contender]?.push(await runChild(contender))
server.close()

const summary = (contender: string) => {
  const all = runs[contender] as Run[]
  const pick = (field: keyof Omit<Run, "contender">) => ({
    median: Number(median(all.map((r) => r[field] as number)).toFixed(1)),
    min: Number(Math.min(...all.map((r) => r[field] as number)).toFixed(1)),
    max: Number(Math.max(...all.map((r) => r[field] as number)).toFixed(1)),
  })
  return {
    p50Us: pick("p50"),
    p90Us: pick("p90"),
    p99Us: pick("p99"),
    shareOverOneMs: pick("overOneMs"),
    cpuUsPerCheck: pick("cpuUsPerCheck"),
    peakRssMb: pick("peakRssMb"),
    wallUsPerCheck: Number(median(all.map((r) => r.wallUs / N)).toFixed(1)),
  }
}
const keyway = summary("keyway")
const undici = summary("undici")
const stats: Stats[] = (["keyway", "undici"] as const).map((contender) => {
  const wallMs = (runs[contender] as Run[]).map((r) => r.wallUs / 1000)
  return {
    name: contender === "keyway" ? "keyway save & test (dist)" : "raw undici.request",
    medianMs: median(wallMs),
    minMs: Math.min(...wallMs),
    maxMs: Math.max(...wallMs),
    unitsPerSecond: N / (median(wallMs) / 1000),
  }
})
report("check-overhead", stats, {
  checksPerRun: N,
  runs: RUNS,
  keyway,
  undici,
  overheadUsPerCheck: {
    wall: Number((keyway.wallUsPerCheck - undici.wallUsPerCheck).toFixed(1)),
    p50: Number((keyway.p50Us.median - undici.p50Us.median).toFixed(1)),
    cpu: Number((keyway.cpuUsPerCheck.median - undici.cpuUsPerCheck.median).toFixed(1)),
  },
})
