/**
 * serve-save-and-test: the API's save & test (`POST /v1/connections` on `keyway serve`) against the
 * library's (`keyway.connect`), both hitting the same sandbox, then the server's peak RSS while
 * 100 POSTs run at once.
 *
 * 1. Time per check. `serve()` runs in this process with `sandbox: true`. It starts its own sandbox
 *    and does not read KEYWAY_SANDBOX_URL, because serve.ts passes `sandboxLayer(undefined)`. The bench
 *    finds that sandbox's address by watching which loopback server answers the first API check
 *    (`http.server.request.start`), and gives it to the library as `sandboxUrl`. Both sides then hit
 *    the same fakes. A check pass counts the sandbox requests each side sends per check and stops the
 *    run if the counts differ. The rate limit is lifted with `limits`. Each contender runs N checks
 *    one after another, alternating, after a warm-up. Each check is timed on its own, and the headline
 *    is the ratio of the per-check medians. Both sides save into SQLite under their own temporary
 *    KEYWAY_HOME.
 * 2. Peak RSS. `node bin/keyway.js serve --sandbox --port 0 --json --quiet` runs as its own process
 *    with a temporary KEYWAY_HOME. RSS_CHECKS POSTs run from this process at CONCURRENCY at once, and
 *    the server's /proc/<pid>/status VmHWM (its peak resident set) is sampled throughout. The CLI
 *    cannot lift the rate limit (60 checks per workspace per minute), so the POSTs are spread over
 *    enough workspaces (`keyway workspaces create`) that none reaches it.
 *
 * The server process runs first, because bin/keyway.js runs dist/ only while no source is newer than it
 * (run `node scripts/build.mjs` before). The results say which one it ran. Where the API's extra time
 * per check goes: bench/support/serve-breakdown.ts.
 *
 *   npm run bench -- serve-save-and-test        (N=2000 checks a round, ROUNDS=3; CONCURRENCY=100,
 *                                                RSS_CHECKS=5000, SERVER_NODE_OPTIONS=... to change)
 */
import { execFile, spawn } from "node:child_process"
import { subscribe, unsubscribe } from "node:diagnostics_channel"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { Agent, request } from "undici"
import { loadCatalog } from "../runner/catalog/catalog.ts"
import { createKeyway } from "../runner/library/index.ts"
import { serve } from "../runner/server/serve.ts"
import { DEFAULT_LIMITS } from "../runner/server/service.ts"
import { compare, report } from "./harness.ts"

const N = Number(process.env.N ?? 2000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 100)
/** Enough for the server's resident set to level off (it does after about 2,000); 100 at the smoke size. */
const RSS_CHECKS = Number(process.env.RSS_CHECKS ?? Math.max(CONCURRENCY, Math.round(N * 2.5)))
/** NODE_OPTIONS for the server process alone (say --max-old-space-size=64), to see what its heap holds. */
const SERVER_NODE_OPTIONS = process.env.SERVER_NODE_OPTIONS
const WARMUP = Math.max(1, Math.round(N / 4))
/** Checks per side in the pass that compares what each sends to the sandbox. */
const PROBE_CHECKS = 5

const ROOT = new URL("../", import.meta.url).pathname
const BIN = join(ROOT, "bin", "keyway.js")
const BODY = JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-valid" } })

const homes: string[] = []
const tempHome = () => {
  const home = mkdtempSync(join(tmpdir(), "keyway-bench-serve-"))
  homes.push(home)
  return home
}
/** The environment for a Keyway under `home`: no store, master key or sandbox URL inherited from the shell. */
const envFor = (home: string): NodeJS.ProcessEnv => {
  const {
    KEYWAY_STORE: _store,
    KEYWAY_MASTER_KEY: _key,
    KEYWAY_PREVIOUS_MASTER_KEYS: _previous,
    KEYWAY_WORKSPACE: _workspace,
    KEYWAY_SANDBOX_URL: _sandbox,
    ...rest
  } = process.env
  return { ...rest, KEYWAY_HOME: home }
}

/** `keyway workspaces create <name> --json`: the workspace's API key. */
const createWorkspace = async (home: string, name: string): Promise<string> => {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, "workspaces", "create", name, "--json"], {
    env: envFor(home),
  })
  return (JSON.parse(stdout) as { key: string }).key
}

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

/** One API save & test. Throws unless it answers 201 with a saved connection. */
const apiCheck = async (url: string, key: string, dispatcher: Agent): Promise<void> => {
  const response = await request(`${url}/v1/connections`, {
    method: "POST",
    dispatcher,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json" },
    body: BODY,
  })
  const answer = (await response.body.json()) as { connection?: { id?: string }; result?: { verdict?: unknown } }
  if (response.statusCode !== 201 || !answer.connection?.id) {
    throw new Error(`POST /v1/connections answered ${response.statusCode}: ${JSON.stringify(answer).slice(0, 300)}`)
  }
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

const definitions = loadCatalog()
const scope = Effect.runSync(Scope.make())
const apiAgent = new Agent({ keepAliveTimeout: 30_000 })
let keyway: ReturnType<typeof createKeyway> | undefined

/** One library save & test, into SQLite under its own home. */
const libraryCheck = async (): Promise<void> => {
  const result = await (keyway as NonNullable<typeof keyway>).connect({
    connectorId: "activtrak",
    credentials: { apiKey: "sandbox-valid" },
  })
  if (!result.saved || result.result.verdict.outcome !== "connected") {
    throw new Error(`keyway.connect: ${result.result.verdict.outcome}`)
  }
}

/** Part 1: API against library, one check after another, on the one sandbox. */
const timePerCheck = async () => {
  const apiHome = tempHome()
  const apiKey = await createWorkspace(apiHome, "bench")
  const { url: apiUrl } = await Effect.runPromise(
    Scope.extend(
      serve({
        port: 0,
        host: "127.0.0.1",
        definitions,
        store: { home: apiHome, url: undefined, workspace: "default" },
        env: envFor(apiHome),
        sandbox: true,
        limits: { checksPerWorkspacePerMinute: 1_000_000_000 },
      }),
      scope,
    ),
  )
  const apiPort = Number(new URL(apiUrl).port)

  // Which loopback server answers each request in this process: the API's, or the sandbox serve started.
  const requestsByPort = new Map<number, number>()
  const onRequest = (message: unknown) => {
    const port = ((message as { server: Server }).server.address() as AddressInfo).port
    requestsByPort.set(port, (requestsByPort.get(port) ?? 0) + 1)
  }
  subscribe("http.server.request.start", onRequest)
  let sandboxPort: number
  let sandboxRequestsPerCheck: { api: number; library: number }
  try {
    await apiCheck(apiUrl, apiKey, apiAgent)
    const others = [...requestsByPort.keys()].filter((port) => port !== apiPort)
    if (others.length !== 1) throw new Error(`expected one sandbox behind serve, saw ports ${others.join(", ")}`)
    sandboxPort = others[0] as number
    keyway = createKeyway({
      definitions: definitions.values(),
      sandboxUrl: `http://127.0.0.1:${sandboxPort}`,
      store: { home: tempHome(), url: undefined, workspace: "bench" },
      env: {},
    })
    const sandboxRequests = async (check: () => Promise<void>) => {
      requestsByPort.clear()
      for (let i = 0; i < PROBE_CHECKS; i++) await check()
      if ([...requestsByPort.keys()].some((port) => port !== apiPort && port !== sandboxPort)) {
        throw new Error("a check went to a server other than the API and its sandbox")
      }
      return (requestsByPort.get(sandboxPort) ?? 0) / PROBE_CHECKS
    }
    sandboxRequestsPerCheck = {
      api: await sandboxRequests(() => apiCheck(apiUrl, apiKey, apiAgent)),
      library: await sandboxRequests(libraryCheck),
    }
    if (sandboxRequestsPerCheck.api !== sandboxRequestsPerCheck.library || sandboxRequestsPerCheck.api === 0) {
      throw new Error(`the two sides do not send the same requests: ${JSON.stringify(sandboxRequestsPerCheck)}`)
    }
  } finally {
    unsubscribe("http.server.request.start", onRequest)
  }

  const perCheck: Record<string, number[]> = { api: [], library: [] }
  const contender = (name: string, side: "api" | "library", check: () => Promise<void>) => ({
    name,
    warmup: async () => {
      for (let i = 0; i < WARMUP; i++) await check()
      return WARMUP
    },
    run: async () => {
      const samples = perCheck[side] as number[]
      for (let i = 0; i < N; i++) {
        const started = performance.now()
        await check()
        samples.push(performance.now() - started)
      }
      return N
    },
  })
  const stats = await compare(
    [
      contender("API POST /v1/connections", "api", () => apiCheck(apiUrl, apiKey, apiAgent)),
      contender("library keyway.connect", "library", libraryCheck),
    ],
    { rounds: ROUNDS, warmup: 1 },
  )
  return { stats, perCheck, apiUrl, sandboxPort, sandboxRequestsPerCheck }
}

/** The status lines this bench reads: VmRSS (now) and VmHWM (the peak so far), in MiB. */
const memoryOf = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
  return { rssMb: kib("VmRSS") / 1024, hwmMb: kib("VmHWM") / 1024 }
}

/** Part 2: `keyway serve --sandbox` as its own process, its peak RSS under CONCURRENCY POSTs at once. */
const peakRss = async () => {
  const home = tempHome()
  const perWorkspace = DEFAULT_LIMITS.checksPerWorkspacePerMinute
  const workspaces = Math.ceil(RSS_CHECKS / perWorkspace)
  const keys = await pool(workspaces, 4, (i) => createWorkspace(home, `rss-${i}`))
  const fresh = bundleIsFresh()
  const child = spawn(process.execPath, [BIN, "serve", "--sandbox", "--port", "0", "--json", "--quiet"], {
    env: { ...envFor(home), ...(SERVER_NODE_OPTIONS ? { NODE_OPTIONS: SERVER_NODE_OPTIONS } : {}) },
    stdio: ["ignore", "pipe", "inherit"],
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  try {
    let output = ""
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        const match = /"url": "([^"]+)"/.exec(output)
        if (match?.[1]) resolve(match[1])
      })
      child.once("exit", (code) => reject(new Error(`keyway serve exited with ${code}`)))
    })
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
      // Round robin over the workspaces: none gets more than its minute's checks.
      await pool(RSS_CHECKS, CONCURRENCY, async (i) => {
        const sent = performance.now()
        await apiCheck(url, keys[i % workspaces] as string, agent)
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
      workspaces,
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
  }
}

try {
  // The server process first: the CLI runs dist/ only while nothing under core/, runner/ or fixtures/ is newer.
  const memory = await peakRss()
  const { stats, perCheck, sandboxRequestsPerCheck } = await timePerCheck()
  const api = summary(perCheck.api ?? [])
  const library = summary(perCheck.library ?? [])
  report("serve-save-and-test", stats, {
    checksPerRound: N,
    rounds: ROUNDS,
    sandbox: "the one serve() started (sandbox: true); the library given its URL",
    sandboxRequestsPerCheck,
    perCheck: { api, library },
    perCheckMedianRatioApiToLibrary: Number((api.medianMs / library.medianMs).toFixed(3)),
    perCheckOverheadMs: Number((api.medianMs - library.medianMs).toFixed(3)),
    goalRatio: 1.3,
    server: memory,
    goalPeakRssMb: 200,
  })
} finally {
  await keyway?.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await apiAgent.close()
  for (const home of homes) rmSync(home, { recursive: true, force: true })
}
