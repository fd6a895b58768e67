/**
 * save-and-test-sequential: Keyway's own cost per save & test check, one check after another, against
 * a minimal loopback server (plain node:http, one fixed small JSON answer), so the fake's time to
 * answer hides nothing. Each contender (Keyway from the bundled dist/, and raw undici.request) runs
 * alone in its own child process, RUNS times (3 by default), so its peak RSS is its own; each process
 * warms up with as many checks as it measures. Reports per check: p50, p90 and p99 wall time, the
 * share over 1 ms, CPU time, and Keyway minus raw undici in microseconds.
 *
 *   npm run bench -- save-and-test-sequential     (N=10000 checks a run, RUNS=3; needs dist/, built by npm install)
 *   CPU_PROF=<dir> adds a V8 CPU profile of each process there; read one with
 *   node bench/support/profile-summary.mjs <file> <checks>
 */
import { existsSync } from "node:fs"
import { report, runInOwnProcess, type Spread, type Stats, spread } from "./harness.ts"
import { startMinimalServer } from "./support/minimal-server.ts"

const N = Number(process.env.N ?? 10_000)
const RUNS = Math.max(1, Number(process.env.RUNS ?? 3))
const CHILD = new URL("./support/sequential-child.mjs", import.meta.url)
if (!existsSync(new URL("../dist/library/index.js", import.meta.url))) {
  console.error("save-and-test-sequential runs Keyway from dist/: run npm run build first")
  process.exit(2)
}

interface Run {
  readonly wallUs: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly overOneMs: number
  readonly cpuUsPerCheck: number
  readonly peakRssMb: number
}

const server = await startMinimalServer()
const runs: Record<"keyway" | "undici", Run[]> = { keyway: [], undici: [] }
try {
  // Alternating, so neither contender always runs on a warmer machine.
  for (let i = 0; i < RUNS; i++) {
    for (const contender of ["keyway", "undici"] as const) {
      runs[contender].push(await runInOwnProcess<Run>(CHILD, [contender, server.origin, String(N)]))
    }
  }
} finally {
  await server.close()
}

const summary = (all: ReadonlyArray<Run>): Record<string, Spread> => ({
  p50Us: spread(all.map((r) => r.p50)),
  p90Us: spread(all.map((r) => r.p90)),
  p99Us: spread(all.map((r) => r.p99)),
  // In percent: spread() keeps one decimal, which rounded a share of a few percent to 0.
  percentOverOneMs: spread(all.map((r) => r.overOneMs * 100)),
  cpuUsPerCheck: spread(all.map((r) => r.cpuUsPerCheck)),
  wallUsPerCheck: spread(all.map((r) => r.wallUs / N)),
  peakRssMb: spread(all.map((r) => r.peakRssMb)),
})
const keyway = summary(runs.keyway)
const undici = summary(runs.undici)
const stats: Stats[] = (["keyway", "undici"] as const).map((contender) => {
  const wallMs = spread(runs[contender].map((r) => r.wallUs / 1000))
  return {
    name: contender === "keyway" ? "keyway save & test" : "raw undici.request",
    medianMs: wallMs.median,
    minMs: wallMs.min,
    maxMs: wallMs.max,
    unitsPerSecond: N / (wallMs.median / 1000),
  }
})
const over = (field: string) => Number(((keyway[field]?.median ?? 0) - (undici[field]?.median ?? 0)).toFixed(1))
report("save-and-test-sequential", stats, {
  checksPerRun: N,
  runs: RUNS,
  keyway,
  undici,
  overheadUsPerCheck: { p50: over("p50Us"), wall: over("wallUsPerCheck"), cpu: over("cpuUsPerCheck") },
  p99RatioToUndici: Number(((keyway.p99Us?.median ?? 0) / (undici.p99Us?.median ?? 1)).toFixed(2)),
})
