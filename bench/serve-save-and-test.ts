/**
 * serve-save-and-test: the API's save & test (`POST /v1/connections` on `keyway serve`) against the
 * library's (`keyway.connect`), then the server's peak RSS while 100 POSTs run at once.
 *
 * 1. Time per check, one contender per process (`harness.compareInProcesses`, bench/support/serve-child.mjs),
 *    and a third: plain node:http over the library (bench/support/plain-serve.mjs), the floor under any
 *    HTTP layer, timed by the same client.
 *    The sandbox runs in its own process, and both contenders send it the same save & test: the
 *    library from a process of its own, the API from a `keyway serve --sandbox` process of its own
 *    (KEYWAY_SANDBOX_URL, `--checks-per-minute` lifted), timed by a thin undici client. Each saves into
 *    SQLite under a fresh KEYWAY_HOME. N sequential checks a run after 2N of warm-up (WARM_UP to change), RUNS runs each,
 *    alternating; the headline is the ratio of the per-check medians. The CPU per check is the
 *    library process's, or the server process's.
 * 2. Peak RSS. Another `keyway serve --sandbox` process, on the same sandbox: RSS_CHECKS POSTs from
 *    this process at CONCURRENCY at once, and the server's VmHWM (its peak resident set) sampled throughout.
 *
 * Both start bin/keyway.js, which runs dist/ only while no source is newer than it (run
 * `node scripts/build.mjs` before); the results say which one ran. Where the API's extra time per
 * check goes: bench/support/serve-breakdown.ts.
 *
 *   npm run bench -- serve-save-and-test        (N=2000 checks a run, RUNS=3; CONCURRENCY=100,
 *                                                RSS_CHECKS=5000, SERVER_NODE_OPTIONS=... to change)
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Agent } from "undici"
import { compareInProcesses, memoryOf, type ProcessRun, report, spread } from "./harness.ts"
import { benchEnv, createWorkspaceKey, postConnection, startServe } from "./support/cli-server.mjs"
import { startSandboxProcess } from "./support/sandbox-process.ts"

const N = Number(process.env.N ?? 2000)
const RUNS = Math.max(1, Number(process.env.RUNS ?? process.env.ROUNDS ?? 3))
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 100)
/** Enough for the server's resident set to level off (it does after about 2,000); 100 at the smoke size. */
const RSS_CHECKS = Number(process.env.RSS_CHECKS ?? Math.max(CONCURRENCY, Math.round(N * 2.5)))
/** NODE_OPTIONS for the server process alone (say --max-old-space-size=64), to see what its heap holds. */
const SERVER_NODE_OPTIONS = process.env.SERVER_NODE_OPTIONS

const ROOT = new URL("../", import.meta.url).pathname

/** Runs `work` over `count` items, `width` at a time. */
const pool = async <A>(count: number, width: number, work: (index: number) => Promise<A>): Promise<A[]> => {
  const results: A[] = new Array(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        const index = next++
        results[index] = await work(index)
      }
    }),
  )
  return results
}

const quantile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (at - low)
}
const summary = (samples: ReadonlyArray<number>) => ({
  checks: samples.length,
  medianMs: Number(quantile(samples, 0.5).toFixed(3)),
  p10Ms: Number(quantile(samples, 0.1).toFixed(3)),
  p90Ms: Number(quantile(samples, 0.9).toFixed(3)),
  p99Ms: Number(quantile(samples, 0.99).toFixed(3)),
})

/** The same freshness rule as bin/keyway.js: a stale dist/ means the CLI runs the sources through tsx. */
const bundleIsFresh = (): boolean => {
  let newest = 0
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) visit(path)
      else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs)
    }
  }
  for (const dir of ["core", "runner", "fixtures"]) visit(join(ROOT, dir))
  try {
    return statSync(join(ROOT, "dist", "main.js")).mtimeMs >= newest
  } catch {
    return false
  }
}

interface ServeRun extends ProcessRun {
  readonly p50Us: number
  readonly p90Us: number
  readonly p99Us: number
  readonly cpuUsPerCheck: number
  readonly requestsPerCheck: number
  readonly warmUpChecks: number
}

/** Part 1: API against library, each in its own process, one check after another. */
const timePerCheck = (sandboxUrl: string) =>
  compareInProcesses<ServeRun>(
    new URL("./support/serve-child.mjs", import.meta.url),
    [
      { name: "API POST /v1/connections", args: ["api", sandboxUrl, String(N)] },
      { name: "library keyway.connect", args: ["library", sandboxUrl, String(N)] },
      // The floor: no HTTP layer over the library can cost less than this one.
      { name: "node:http over the library", args: ["plain", sandboxUrl, String(N)] },
    ],
    RUNS,
  )

/** Part 2: `keyway serve --sandbox` as its own process, its peak RSS under CONCURRENCY POSTs at once. */
const peakRss = async (sandboxUrl: string) => {
  const home = mkdtempSync(join(tmpdir(), "keyway-bench-serve-rss-"))
  const env = benchEnv(home, { KEYWAY_SANDBOX_URL: sandboxUrl })
  const key = await createWorkspaceKey(env, "rss")
  const fresh = bundleIsFresh()
  const { child, url } = await startServe({
    ...env,
    ...(SERVER_NODE_OPTIONS ? { NODE_OPTIONS: SERVER_NODE_OPTIONS } : {}),
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  try {
    const pid = child.pid as number
    const atStart = memoryOf(pid)
    const samples: Array<{ atMs: number; rssMb: number }> = []
    const started = performance.now()
    const sampler = setInterval(() => samples.push({ atMs: performance.now() - started, ...memoryOf(pid) }), 20)
    const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 })
    const latencies: number[] = []
    const rssByTenth: number[] = []
    let loadMs: number
    try {
      const loadStarted = performance.now()
      await pool(RSS_CHECKS, CONCURRENCY, async () => {
        const sent = performance.now()
        await postConnection(url, key, agent)
        latencies.push(performance.now() - sent)
        // The resident set after each tenth of the checks: a plateau, or growth with the work done.
        if (latencies.length % Math.ceil(RSS_CHECKS / 10) === 0) rssByTenth.push(Math.round(memoryOf(pid).rssMb))
      })
      loadMs = performance.now() - loadStarted
    } finally {
      clearInterval(sampler)
      await agent.close()
    }
    const atEnd = memoryOf(pid)
    return {
      serverRunsFrom: fresh ? "dist bundle" : "TypeScript sources through tsx (dist/ is stale)",
      serverNodeOptions: SERVER_NODE_OPTIONS ?? null,
      checks: RSS_CHECKS,
      concurrency: CONCURRENCY,
      checksPerSecond: Math.round((RSS_CHECKS / loadMs) * 1000),
      latencyAtConcurrency: summary(latencies),
      rssAtStartMb: Math.round(atStart.rssMb),
      rssAfterLoadMb: Math.round(atEnd.rssMb),
      rssAfterEachTenthMb: rssByTenth,
      maxSampledRssMb: Math.round(Math.max(atStart.rssMb, ...samples.map((s) => s.rssMb))),
      /** VmHWM at the end: the most the server's resident set reached, start-up included. */
      peakRssMb: Math.round(atEnd.hwmMb),
    }
  } finally {
    child.kill("SIGTERM")
    await exited
    rmSync(home, { recursive: true, force: true })
  }
}

const sandbox = await startSandboxProcess()
try {
  // The server processes first: the CLI runs dist/ only while nothing under core/, runner/ or fixtures/ is newer.
  const memory = await peakRss(sandbox.url)
  const { stats, runs } = await timePerCheck(sandbox.url)
  const perRun = (name: string) => {
    const done = runs.get(name) ?? []
    return {
      p50Us: spread(done.map((r) => r.p50Us)),
      p90Us: spread(done.map((r) => r.p90Us)),
      p99Us: spread(done.map((r) => r.p99Us)),
      cpuUsPerCheck: spread(done.map((r) => r.cpuUsPerCheck)),
      peakRssMb: spread(done.map((r) => r.peakRssMb)),
    }
  }
  const api = perRun("API POST /v1/connections")
  const library = perRun("library keyway.connect")
  const floor = perRun("node:http over the library")
  // The same save & test on both sides: a side that sent fewer vendor requests would be measured doing less.
  const requests = [...runs.values()].flat().map((run) => run.requestsPerCheck)
  if (new Set(requests).size !== 1 || requests[0] === 0) {
    throw new Error(`the two sides do not send the same vendor requests per check: ${JSON.stringify(requests)}`)
  }
  report("serve-save-and-test", stats, {
    checksPerRun: N,
    warmUpChecksPerRun: [...runs.values()].flat()[0]?.warmUpChecks,
    runs: RUNS,
    method:
      "each contender in its own process from dist/ (the API: a keyway serve process, timed by a thin client); one sandbox process for both",
    vendorRequestsPerCheck: requests[0],
    perCheck: { api, library, floor },
    perCheckMedianRatioApiToLibrary: Number((api.p50Us.median / library.p50Us.median).toFixed(3)),
    /** The least any HTTP layer adds on this machine: the goal cannot be met below it. */
    perCheckMedianRatioFloorToLibrary: Number((floor.p50Us.median / library.p50Us.median).toFixed(3)),
    perCheckOverheadUs: Math.round(api.p50Us.median - library.p50Us.median),
    goalRatio: 1.3,
    server: memory,
    goalPeakRssMb: 200,
  })
} finally {
  sandbox.child.kill()
}
