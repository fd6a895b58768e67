/**
 * fleet: 1, 2 and 4 worker processes over N sandbox connections (100 by default), each with its own
 * key, against a per-key token bucket that states its limit (the sandbox's `ratelimit` mode). Every
 * connection's sync is queued at once; a round ends when every manifest is written. Reports the
 * throughput (requests a second), and the share of requests over the limit (answered 429), per
 * worker count, in the same run.
 *
 *   npm run bench -- fleet        (N=... PER_SECOND=... RECORDS=... to change; needs redis-server)
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createKeyway } from "../runner/library/index.ts"
import { startSandbox } from "../runner/sandbox/server.ts"
import { findRedisServer, startRedis } from "../test/support/redis.ts"
import { report, type Stats } from "./harness.ts"

const N = Number(process.env.N ?? 100)
const PER_SECOND = Number(process.env.PER_SECOND ?? 5)
const RECORDS = Number(process.env.RECORDS ?? 3000)
const BIN = new URL("../bin/keyway.js", import.meta.url).pathname
const redisBinary = findRedisServer()
if (!redisBinary) {
  console.error("fleet needs redis-server (apt-get install redis-server)")
  process.exit(2)
}

const round = async (workers: number) => {
  const redis = await startRedis(redisBinary)
  const sandbox = await startSandbox({ rateLimit: { perSecond: PER_SECOND, burst: PER_SECOND, mode: "ratelimit" } })
  const home = mkdtempSync(join(tmpdir(), "keyway-bench-fleet-"))
  const env = { ...process.env, KEYWAY_HOME: home, KEYWAY_REDIS: redis.url, KEYWAY_SANDBOX_URL: sandbox.url }
  const keyway = createKeyway({ sandboxUrl: sandbox.url, store: { home, url: undefined, workspace: "default" }, env })
  const ids: string[] = []
  for (let i = 0; i < N; i++) {
    const made = await keyway.connect({
      connectorId: "activtrak",
      credentials: { apiKey: `sandbox-records-${RECORDS + i}` },
    })
    ids.push(made.connection?.id as string)
  }
  await keyway.close()
  sandbox.state.statusCounts.clear()
  const children = Array.from({ length: workers }, () =>
    spawn(process.execPath, [BIN, "worker", "--sandbox", "--concurrency", "8"], { env, stdio: "ignore" }),
  )
  const started = performance.now()
  const { openQueues } = await import("../runner/fleet/queues.ts")
  const { syncNow } = await import("../runner/fleet/schedules.ts")
  const queues = openQueues(redis.url)
  for (const id of ids) {
    await syncNow(queues, {
      workspace: "default",
      connectionId: id,
      streamId: "activityLog",
      from: "2026-03-01",
      to: "2026-03-01",
    })
  }
  const done = () =>
    ids.filter((id) => {
      const dir = join(home, "outputs", id, "activityLog")
      return existsSync(dir) && readdirSync(dir).some((name) => name.endsWith(".manifest.json"))
    }).length
  while (done() < ids.length) await new Promise((resolve) => setTimeout(resolve, 100))
  const ms = performance.now() - started
  for (const child of children) child.kill("SIGTERM")
  await queues.close()
  const ok = sandbox.state.statusCounts.get(200) ?? 0
  const throttled = sandbox.state.statusCounts.get(429) ?? 0
  await sandbox.stop()
  await redis.stop()
  return { workers, ms, requests: ok + throttled, throttledShare: throttled / Math.max(1, ok + throttled) }
}

const results = []
for (const workers of [4, 2, 1]) results.push(await round(workers))
const stats: Stats[] = results.map((r) => ({
  name: `${r.workers} worker${r.workers === 1 ? "" : "s"}`,
  medianMs: r.ms,
  minMs: r.ms,
  maxMs: r.ms,
  unitsPerSecond: (r.requests / r.ms) * 1000,
}))
report("fleet", stats, {
  connections: N,
  perKeyLimitPerSecond: PER_SECOND,
  perRound: results.map((r) => ({
    workers: r.workers,
    seconds: Number((r.ms / 1000).toFixed(2)),
    requestsPerSecond: Number(((r.requests / r.ms) * 1000).toFixed(1)),
    shareOverLimit: Number(r.throttledShare.toFixed(4)),
  })),
  notMeasured: "a per-vendor-host limit: the sandbox limits per key only",
})
