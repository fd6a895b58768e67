/**
 * fleet: 1, 2 and 4 worker processes over N sandbox connections (100 by default), each with its own
 * key, against two limits at once:
 * - per key: PER_SECOND requests a second, stated in RateLimit headers (the sandbox's `ratelimit` mode);
 * - per vendor host: HOST_PER_SECOND requests in any one second (a sliding window) for every key together, refused with
 *   Retry-After and stated only in the definition (`rateLimit.perHost`, through KEYWAY_CONNECTORS).
 *
 * A baseline round first: one worker with the per-key limit alone, to measure what one worker can do.
 * Then each worker count with both limits. Once the workers are ready, they warm up on syncs of
 * connections of their own (CONCURRENCY for each worker, with keys of their own); then every
 * connection's sync is queued at once, and the round, timed from there, ends when every manifest is
 * written. Reports throughput (requests a second), the share of requests over a limit (answered 429),
 * throughput as a share of the lower of the host's limit and what one worker can do (the goal: at
 * least 0.9, with nothing over a limit), where the round's time went (before the sandbox's first
 * answer, after its last), and the largest worker's peak RSS, read from /proc while it still runs.
 *
 *   npm run bench -- fleet        (N=... PER_SECOND=... HOST_PER_SECOND=... RECORDS=... CONCURRENCY=...;
 *                                 needs redis-server)
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { openQueues } from "../runner/fleet/queues.ts"
import { syncNow } from "../runner/fleet/schedules.ts"
import { createKeyway } from "../runner/library/index.ts"
import { startSandbox } from "../runner/sandbox/server.ts"
import { connectorsWithHostLimit } from "../test/support/host-limited-connectors.ts"
import { findRedisServer, startRedis } from "../test/support/redis.ts"
import { memoryOf, report, type Stats } from "./harness.ts"

const N = Number(process.env.N ?? 100)
const PER_SECOND = Number(process.env.PER_SECOND ?? 5)
const HOST_PER_SECOND = Number(process.env.HOST_PER_SECOND ?? 40)
const RECORDS = Number(process.env.RECORDS ?? 3000)
/** Jobs each worker runs at once. */
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8)
const BIN = new URL("../bin/keyway.js", import.meta.url).pathname
const redisBinary = findRedisServer()
if (!redisBinary) {
  console.error("fleet needs redis-server (apt-get install redis-server)")
  process.exit(2)
}

const round = async (workers: number, hostLimited: boolean) => {
  const redis = await startRedis(redisBinary)
  const sandbox = await startSandbox({
    rateLimit: { perSecond: PER_SECOND, burst: PER_SECOND, mode: "ratelimit" },
    ...(hostLimited ? { hostRateLimit: { requests: HOST_PER_SECOND, seconds: 1 } } : {}),
  })
  const home = mkdtempSync(join(tmpdir(), "keyway-bench-fleet-"))
  const env = {
    ...process.env,
    KEYWAY_HOME: home,
    KEYWAY_REDIS: redis.url,
    KEYWAY_SANDBOX_URL: sandbox.url,
    ...(hostLimited ? { KEYWAY_CONNECTORS: connectorsWithHostLimit(HOST_PER_SECOND) } : {}),
  }
  const keyway = createKeyway({ sandboxUrl: sandbox.url, store: { home, url: undefined, workspace: "default" }, env })
  // Keys of their own for the warm-up's connections, so the timed round starts with every key's budget whole.
  const connectionsFor = async (count: number, firstKey: number) => {
    const ids: string[] = []
    for (let i = 0; i < count; i++) {
      const made = await keyway.connect({
        connectorId: "activtrak",
        credentials: { apiKey: `sandbox-records-${firstKey + i}` },
      })
      ids.push(made.connection?.id as string)
    }
    return ids
  }
  const ids = await connectionsFor(N, RECORDS)
  const warmUpIds = await connectionsFor(workers * CONCURRENCY, RECORDS + N)
  await keyway.close()
  const children = Array.from({ length: workers }, () =>
    spawn(process.execPath, [BIN, "worker", "--sandbox", "--concurrency", String(CONCURRENCY)], {
      env,
      stdio: "ignore",
    }),
  )
  const queues = openQueues(redis.url)
  const syncAll = async (connections: ReadonlyArray<string>) => {
    for (const id of connections) {
      await syncNow(queues, {
        workspace: "default",
        connectionId: id,
        streamId: "activityLog",
        from: "2026-03-01",
        to: "2026-03-01",
      })
    }
    const done = () =>
      connections.filter((id) => {
        const dir = join(home, "outputs", id, "activityLog")
        return existsSync(dir) && readdirSync(dir).some((name) => name.endsWith(".manifest.json"))
      }).length
    while (done() < connections.length) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  while ((await queues.sync.getWorkersCount()) < workers) await new Promise((resolve) => setTimeout(resolve, 50))
  // A warm-up, as every other benchmark has in each process: a fresh worker compiles its code and opens
  // its store on its first jobs, and four of them at once on 2 cores took about 3 s to reach the pace.
  const warmUpStarted = performance.now()
  await syncAll(warmUpIds)
  const warmUpMs = performance.now() - warmUpStarted
  // The seeding's and the warm-up's requests are not the timed round's: count, and the host's window, afresh.
  sandbox.state.reset()
  const started = performance.now()
  await syncAll(ids)
  const ms = performance.now() - started
  const workerPeakRssMb = Math.max(...children.map((child) => memoryOf(child.pid as number).hwmMb))
  // Stopped in order: the workers (each exits once its jobs are closed), then Redis and the sandbox.
  await Promise.all(
    children.map((child) => {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGTERM")
      return exited
    }),
  )
  await queues.close()
  const busyMs = (sandbox.state.lastAnsweredAt ?? 0) - (sandbox.state.firstAnsweredAt ?? 0)
  const firstAnswerAfterMs = (sandbox.state.firstAnsweredAt ?? started) - started
  const ok = sandbox.state.statusCounts.get(200) ?? 0
  const throttled = sandbox.state.statusCounts.get(429) ?? 0
  const overKeyLimit = sandbox.state.throttledBy.get("key") ?? 0
  const overHostLimit = sandbox.state.throttledBy.get("host") ?? 0
  await sandbox.stop()
  await redis.stop()
  const requests = ok + throttled
  return {
    workers,
    ms,
    requests,
    requestsPerSecond: (requests / ms) * 1000,
    warmUpMs,
    busyMs,
    firstAnswerAfterMs,
    throttledShare: throttled / Math.max(1, requests),
    overKeyLimit,
    overHostLimit,
    workerPeakRssMb,
  }
}

// What one worker can do with the per-key limit alone (100 keys at 5 a second allow far more).
const oneWorker = await round(1, false)
const results = []
for (const workers of [4, 2, 1]) results.push(await round(workers, true))
const ceiling = Math.min(HOST_PER_SECOND, oneWorker.requestsPerSecond)
const stats: Stats[] = [...results, oneWorker].map((r, i) => ({
  name: i < results.length ? `${r.workers} worker${r.workers === 1 ? "" : "s"}` : "1 worker, per-key limit only",
  medianMs: r.ms,
  minMs: r.ms,
  maxMs: r.ms,
  unitsPerSecond: r.requestsPerSecond,
}))
const perRound = results.map((r) => ({
  workers: r.workers,
  seconds: Number((r.ms / 1000).toFixed(2)),
  requests: r.requests,
  requestsPerSecond: Number(r.requestsPerSecond.toFixed(1)),
  // Where the rest of the round went: before the first answer (queueing, a job's start) and after the last.
  warmUpSeconds: Number((r.warmUpMs / 1000).toFixed(2)),
  firstAnswerAfterSeconds: Number((r.firstAnswerAfterMs / 1000).toFixed(2)),
  afterLastAnswerSeconds: Number(((r.ms - r.firstAnswerAfterMs - r.busyMs) / 1000).toFixed(2)),
  busyRequestsPerSecond: Number(((r.requests / r.busyMs) * 1000).toFixed(1)),
  shareOverLimit: Number(r.throttledShare.toFixed(4)),
  overKeyLimit: r.overKeyLimit,
  overHostLimit: r.overHostLimit,
  shareOfCeiling: Number((r.requestsPerSecond / ceiling).toFixed(3)),
  workerPeakRssMb: Number(r.workerPeakRssMb.toFixed(1)),
}))
report("fleet", stats, {
  connections: N,
  perKeyLimitPerSecond: PER_SECOND,
  perHostLimitPerSecond: HOST_PER_SECOND,
  oneWorkerPerSecond: Number(oneWorker.requestsPerSecond.toFixed(1)),
  ceilingPerSecond: Number(ceiling.toFixed(1)),
  perRound,
  goalMet: perRound.every((r) => r.shareOverLimit === 0 && r.shareOfCeiling >= 0.9),
})
