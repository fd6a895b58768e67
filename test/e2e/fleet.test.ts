/**
 * The fleet with real Redis and real worker processes: a scheduled sync's output appears; a worker
 * killed with SIGKILL mid-sync leaves its job to stall, another worker takes it over and resumes from
 * the checkpoint, and every record is written exactly once; a worker's /metrics counts what it did.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../../runner/sandbox/server.ts"
import { BIN, keyway } from "../support/cli.ts"
import { connectorsWithHostLimit } from "../support/host-limited-connectors.ts"
import { findRedisServer, type RedisServer, startRedis } from "../support/redis.ts"

const redisBinary = findRedisServer()
const children: ChildProcess[] = []
/** Process groups started through npx: killing npx alone would leave its node child running. */
const groups: number[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
  for (const pid of groups.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
})

// The entry's type comes with the listing: a worker renames its .partial file away while this polls,
// and a stat of each name afterwards failed with ENOENT (CI, once).
const files = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
      )
    : []

/** The bytes in `dir`'s unfinished outputs; one finished (renamed) since the listing counts none. */
const partialBytes = (dir: string): number =>
  files(dir)
    .filter((file) => file.includes(".partial"))
    .reduce((sum, file) => sum + (statSync(file, { throwIfNoEntry: false })?.size ?? 0), 0)

/** A run's NDJSON output in `dir`, and the activity-log ids in it, in order. */
const runOutput = (dir: string) => {
  const output = files(dir).find((file) => file.endsWith(".ndjson")) as string
  const ids = readFileSync(output, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line).record.logId as number)
  return { output, ids }
}

const until = async (check: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe.skipIf(!redisBinary)(
  `the fleet${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    let redis: RedisServer
    let sandbox: Sandbox
    let home: string
    let env: Record<string, string>
    const worker = (extra: string[] = []) => {
      const child = spawn(process.execPath, [BIN, "worker", "--sandbox", "--lock-seconds", "2", ...extra], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      })
      children.push(child)
      let log = ""
      child.stderr?.on("data", (chunk: Buffer) => {
        log += chunk.toString()
      })
      return { child, log: () => log }
    }
    const connect = async (apiKey: string) =>
      JSON.parse(
        (await keyway(["connect", "activtrak", "--sandbox", "--json"], { env, stdin: JSON.stringify({ apiKey }) }))
          .stdout,
      ).connection.id as string

    beforeAll(async () => {
      redis = await startRedis(redisBinary as string)
      // Slow pages (10 a second), so a sync can be killed in the middle.
      sandbox = await startSandbox({ rateLimit: { perSecond: 10, burst: 1, mode: "retry-after" } })
      home = mkdtempSync(join(tmpdir(), "keyway-fleet-"))
      env = { KEYWAY_HOME: home, KEYWAY_REDIS: redis.url, KEYWAY_SANDBOX_URL: sandbox.url }
    })
    afterAll(async () => {
      await sandbox?.stop()
      await redis?.stop()
    })

    it("a sync queued with keyway schedule is run by a worker: NDJSON and a manifest under outputs/<connection>/<stream>/", async () => {
      const id = await connect("sandbox-records-300")
      const one = worker()
      expect(
        (
          await keyway(["schedule", "sync", id, "activityLog", "--now", "--from", "2026-03-01", "--to", "2026-03-01"], {
            env,
          })
        ).code,
      ).toBe(0)
      const dir = join(home, "outputs", id, "activityLog")
      await until(() => files(dir).some((file) => file.endsWith(".manifest.json")), 30_000, "the manifest")
      const manifest = JSON.parse(readFileSync(files(dir).find((f) => f.endsWith(".manifest.json")) as string, "utf8"))
      const lines = readFileSync(files(dir).find((f) => f.endsWith(".ndjson")) as string, "utf8")
        .trim()
        .split("\n")
      expect(manifest).toMatchObject({
        connection: id,
        stream: "activityLog",
        window: { from: "2026-03-01", to: "2026-03-01" },
      })
      expect(lines).toHaveLength(manifest.records)
      expect(manifest.records).toBeGreaterThan(0)
      one.child.kill("SIGTERM")
    }, 60_000)

    it("a worker killed with SIGKILL mid-sync: another takes the stalled job over, resumes, and writes every record once", async () => {
      const id = await connect("sandbox-records-30000")
      const first = worker()
      expect(
        (
          await keyway(["schedule", "sync", id, "activityLog", "--now", "--from", "2026-03-02", "--to", "2026-03-03"], {
            env,
          })
        ).code,
      ).toBe(0)
      const dir = join(home, "outputs", id, "activityLog")
      const written = () => partialBytes(dir)
      await until(() => written() > 500_000, 60_000, "the first pages")
      first.child.kill("SIGKILL")
      const second = worker()
      await until(
        () => files(dir).some((file) => file.endsWith(".manifest.json")),
        90_000,
        "the resumed sync's manifest",
      )
      // The worker writes the manifest, then logs the sync: wait for the line, not just the file.
      await until(() => /sync .* records to/.test(second.log()), 10_000, "the resumed sync's log line")
      expect(second.log()).toMatch(/sync .* records to/)
      const { output, ids } = runOutput(dir)
      expect(ids.length).toBeGreaterThan(10_000)
      expect(new Set(ids).size).toBe(ids.length)
      expect(JSON.parse(readFileSync(output.replace(/\.ndjson$/, ".manifest.json"), "utf8")).resumed).toBe(true)
      expect(files(dir).filter((file) => file.includes(".partial"))).toEqual([])
      second.child.kill("SIGTERM")
    }, 180_000)

    it("Redis restarted mid-sync (append-only file on) loses no job: the sync finishes, every record once", async () => {
      const id = await connect("sandbox-records-20000")
      const one = worker()
      expect(
        (
          await keyway(["schedule", "sync", id, "activityLog", "--now", "--from", "2026-03-05", "--to", "2026-03-06"], {
            env,
          })
        ).code,
      ).toBe(0)
      const dir = join(home, "outputs", id, "activityLog")
      const written = () => partialBytes(dir)
      await until(() => written() > 300_000, 60_000, "the first pages")
      await redis.kill()
      await new Promise((resolve) => setTimeout(resolve, 1000))
      await redis.restart()
      await until(() => files(dir).some((file) => file.endsWith(".manifest.json")), 90_000, "the sync's manifest")
      const { ids } = runOutput(dir)
      expect(ids.length).toBeGreaterThan(5_000)
      expect(new Set(ids).size).toBe(ids.length)
      one.child.kill("SIGTERM")
    }, 180_000)

    it("keyway serve --worker runs the API and a worker in one process: a connection made through the API is synced", async () => {
      const served = spawn(process.execPath, [BIN, "serve", "--sandbox", "--worker", "--port", "0", "--json"], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      })
      children.push(served)
      let stdout = ""
      served.stdout?.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
      })
      await until(() => stdout.trimEnd().endsWith("}"), 30_000, "the server")
      const url = JSON.parse(stdout).url as string
      const key = JSON.parse((await keyway(["workspaces", "create", "default", "--json"], { env })).stdout).key
      const made = (await (
        await fetch(`${url}/v1/connections`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-records-200" } }),
        })
      ).json()) as { connection: { id: string } }
      const id = made.connection.id
      expect(
        (
          await keyway(["schedule", "sync", id, "activityLog", "--now", "--from", "2026-03-01", "--to", "2026-03-01"], {
            env,
          })
        ).code,
      ).toBe(0)
      await until(
        () => files(join(home, "outputs", id, "activityLog")).some((f) => f.endsWith(".manifest.json")),
        30_000,
        "the output",
      )
      // The sync is in the connection's audit log, which the API serves (written just after the manifest).
      const history = async () =>
        (
          (await (
            await fetch(`${url}/v1/connections/${id}/events`, { headers: { authorization: `Bearer ${key}` } })
          ).json()) as { events: Array<{ type: string; by: string }> }
        ).events.map((e) => `${e.type} by ${e.by}`)
      let seen: string[] = []
      const deadline = Date.now() + 10_000
      while (seen.length < 2 && Date.now() < deadline) seen = await history()
      expect(seen).toEqual(["created by api", "synced by worker"])
      served.kill("SIGTERM")
    }, 60_000)

    it("a worker stopped with SIGTERM after its Redis has gone still exits, within its lock's duration and a little", async () => {
      const own = await startRedis(redisBinary as string)
      const lone = spawn(process.execPath, [BIN, "worker", "--sandbox", "--lock-seconds", "2"], {
        env: { ...process.env, ...env, KEYWAY_REDIS: own.url },
        stdio: ["ignore", "pipe", "pipe"],
      })
      children.push(lone)
      let log = ""
      lone.stderr?.on("data", (chunk: Buffer) => {
        log += chunk.toString()
      })
      // It says so once it listens.
      await new Promise((resolve) => lone.stdout?.once("data", resolve))
      await own.stop()
      const started = Date.now()
      lone.kill("SIGTERM")
      const code = await new Promise<number | null>((resolve) => lone.once("exit", (exitCode) => resolve(exitCode)))
      // Before, it waited for Redis forever. Now: the lock's 2 s for active jobs, then 2 s per client at most.
      expect(Date.now() - started, log).toBeLessThan(15_000)
      expect(code).toBe(0)
    }, 30_000)

    it("a scheduled verify re-tests every saved connection, and /metrics counts the checks", async () => {
      const metricsWorker = worker(["--metrics-port", "0", "--json"])
      let stdout = ""
      metricsWorker.child.stdout?.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
      })
      await until(() => stdout.trimEnd().endsWith("}"), 20_000, "the worker's address")
      const metrics = JSON.parse(stdout).metrics as string
      expect((await keyway(["schedule", "verify", "--every", "1h"], { env })).code).toBe(0)
      await until(() => /verify con_\w+: connected/.test(metricsWorker.log()), 30_000, "a verify job")
      const listed = await keyway(["schedule", "list"], { env })
      expect(listed.stdout).toMatch(/verify-all\s+verify\s+every 3600 s/)
      const scraped = await (await fetch(metrics)).text()
      expect(scraped).toMatch(/keyway_checks_total\{outcome="connected"\} [1-9]/)
      expect(scraped).toMatch(/keyway_queue_jobs\{queue="keyway-verify",state="waiting"\}/)
      metricsWorker.child.kill("SIGTERM")
    }, 60_000)
  },
)

describe.skipIf(!redisBinary)(
  `one rate budget per key across workers${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    it("two workers syncing with one key against a token bucket that states its limit stay under it: at most 2% throttled", async () => {
      const redis = await startRedis(redisBinary as string)
      // 20 requests a second per key, a burst of 2, stated in RateLimit headers: each worker alone would pace to it.
      const bucket = await startSandbox({ rateLimit: { perSecond: 20, burst: 2, mode: "ratelimit" } })
      const home = mkdtempSync(join(tmpdir(), "keyway-budget-"))
      const env = { KEYWAY_HOME: home, KEYWAY_REDIS: redis.url, KEYWAY_SANDBOX_URL: bucket.url }
      try {
        // Two connections with the same key: one pace, whichever connection and worker sends.
        const workers = await syncWithTwoWorkers({
          env,
          home,
          sandbox: bucket,
          apiKeys: ["sandbox-records-60000", "sandbox-records-60000"],
          concurrency: 1,
          to: "2026-03-12",
        })
        const ok = bucket.state.statusCounts.get(200) ?? 0
        const throttled = bucket.state.statusCounts.get(429) ?? 0
        expect(ok).toBeGreaterThan(60)
        // Unshared, each worker paces to the stated limit on its own, and together they overrun it:
        // 5 of 127 throttled when measured; shared, none.
        expect(throttled / (ok + throttled)).toBeLessThanOrEqual(0.02)
        for (const child of workers) child.kill("SIGTERM")
      } finally {
        await bucket.stop()
        await redis.stop()
      }
    }, 180_000)

    it("two workers syncing eight keys against a host's limit for all keys (stated in the definition) stay under it: none throttled", async () => {
      const redis = await startRedis(redisBinary as string)
      // 20 requests a second for every key together at the host, refused with Retry-After, as most vendors do.
      const host = await startSandbox({ hostRateLimit: { requests: 20, seconds: 1 } })
      const home = mkdtempSync(join(tmpdir(), "keyway-host-budget-"))
      const env = {
        KEYWAY_HOME: home,
        KEYWAY_REDIS: redis.url,
        KEYWAY_SANDBOX_URL: host.url,
        KEYWAY_CONNECTORS: connectorsWithHostLimit(20),
      }
      try {
        const workers = await syncWithTwoWorkers({
          env,
          home,
          sandbox: host,
          apiKeys: Array.from({ length: 8 }, (_, i) => `sandbox-records-${6000 + i}`),
          concurrency: 4,
          to: "2026-03-02",
        })
        const ok = host.state.statusCounts.get(200) ?? 0
        expect(ok).toBeGreaterThan(60)
        // Each key's own pace knows nothing of the other keys: without the host's shared schedule,
        // eight keys on two workers overrun it at once.
        expect(host.state.statusCounts.get(429) ?? 0).toBe(0)
        for (const child of workers) child.kill("SIGTERM")
      } finally {
        await host.stop()
        await redis.stop()
      }
    }, 180_000)
  },
)

/**
 * Connects one ActivTrak connection per key, starts counting the sandbox's answers afresh, starts two
 * workers, queues each connection's activityLog sync from 2026-03-01 to `to`, and waits for every
 * manifest. Answers the workers, still running.
 */
async function syncWithTwoWorkers(run: {
  readonly env: Record<string, string>
  readonly home: string
  readonly sandbox: Sandbox
  readonly apiKeys: ReadonlyArray<string>
  readonly concurrency: number
  readonly to: string
}): Promise<ChildProcess[]> {
  const ids: string[] = []
  for (const apiKey of run.apiKeys) {
    const made = await keyway(["connect", "activtrak", "--sandbox", "--json"], {
      env: run.env,
      stdin: JSON.stringify({ apiKey }),
    })
    ids.push(JSON.parse(made.stdout).connection.id)
  }
  run.sandbox.state.statusCounts.clear()
  const workers = [0, 1].map(() => {
    const child = spawn(process.execPath, [BIN, "worker", "--sandbox", "--concurrency", String(run.concurrency)], {
      env: { ...process.env, ...run.env },
      stdio: "ignore",
    })
    children.push(child)
    return child
  })
  for (const id of ids) {
    const queued = await keyway(
      ["schedule", "sync", id, "activityLog", "--now", "--from", "2026-03-01", "--to", run.to],
      { env: run.env },
    )
    expect(queued.code).toBe(0)
  }
  const manifests = () =>
    ids.filter((id) => files(join(run.home, "outputs", id, "activityLog")).some((f) => f.endsWith(".manifest.json")))
  await until(() => manifests().length === ids.length, 120_000, `${ids.length} syncs`)
  return workers
}

/** The README's fleet quick start, line for line: the test below checks the README still says exactly this. */
const QUICK_START = [
  "sudo apt-get install -y redis-server",
  "redis-server --port 6390 --appendonly yes",
  "export KEYWAY_REDIS=redis://127.0.0.1:6390 KEYWAY_SANDBOX_URL=http://127.0.0.1:4010",
  "npx keyway sandbox --port 4010",
  "npx keyway worker --sandbox",
  `echo '{"apiKey":"sandbox-records-300"}' | npx keyway connect activtrak --sandbox`,
  "npx keyway schedule sync <connection> activityLog --now --from 2026-03-01 --to 2026-03-01",
  "npx keyway schedule verify --every 1d",
  "ls ~/.keyway/outputs/<connection>/activityLog/",
]

describe.skipIf(!redisBinary)(
  `the README's fleet quick start, as written${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    const ROOT = new URL("../../", import.meta.url).pathname
    it("runs each line (a fresh HOME; the servers and two workers in the background) and the outputs appear", async () => {
      const readme = readFileSync(join(ROOT, "README.md"), "utf8")
      const block = /## The fleet[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ""
      expect(
        block
          .split("\n")
          .map((line) => line.replace(/\s+#.*$/, "").trim())
          .filter(Boolean),
      ).toEqual(QUICK_START)

      const home = mkdtempSync(join(tmpdir(), "keyway-quickstart-"))
      const exported = Object.fromEntries(
        [...(QUICK_START[2] as string).matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1] as string, m[2] as string]),
      )
      const env: Record<string, string | undefined> = { ...process.env, HOME: home, ...exported }
      for (const name of Object.keys(env))
        if (name.startsWith("npm_") || (name.startsWith("KEYWAY_") && !(name in exported))) delete env[name]
      // npx as a newcomer runs it, without npm asking the registry whether a newer npm exists: nothing here leaves loopback.
      env.npm_config_update_notifier = "false"
      env.npm_config_offline = "true"
      const background = (command: string, cwd = ROOT) => {
        const child = spawn("bash", ["-c", `exec ${command}`], {
          cwd,
          env,
          stdio: ["ignore", "pipe", "pipe"],
          detached: true,
        })
        groups.push(child.pid as number)
        let output = ""
        child.stdout?.on("data", (chunk: Buffer) => {
          output += chunk.toString()
        })
        child.stderr?.on("data", (chunk: Buffer) => {
          output += chunk.toString()
        })
        return () => output
      }
      const run = (command: string) =>
        new Promise<{ code: number | null; output: string }>((resolve) => {
          const child = spawn("bash", ["-c", command], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
          let output = ""
          child.stdout?.on("data", (chunk: Buffer) => {
            output += chunk.toString()
          })
          child.stderr?.on("data", (chunk: Buffer) => {
            output += chunk.toString()
          })
          child.once("close", (code) => resolve({ code, output }))
        })
      // Its append-only file goes where it runs: the fresh HOME.
      const redisOut = background((QUICK_START[1] as string).replace("redis-server", redisBinary as string), home)
      await until(() => redisOut().includes("Ready to accept connections"), 20_000, "redis-server")
      const sandboxOut = background(QUICK_START[3] as string)
      await until(() => sandboxOut().includes("Keyway sandbox on"), 30_000, "the sandbox")
      const workers = [background(QUICK_START[4] as string), background(QUICK_START[4] as string)]
      await until(() => workers.every((out) => out().includes("Keyway worker on")), 30_000, "two workers")
      const connected = await run(QUICK_START[5] as string)
      expect(connected.code).toBe(0)
      const id = /Saved as (con_[0-9a-f]+)/.exec(connected.output)?.[1] as string
      expect((await run((QUICK_START[6] as string).replace("<connection>", id))).code).toBe(0)
      expect((await run(QUICK_START[7] as string)).code).toBe(0)
      const dir = join(home, ".keyway", "outputs", id, "activityLog")
      await until(() => files(dir).some((file) => file.endsWith(".manifest.json")), 30_000, "the outputs")
      const listed = await run((QUICK_START[8] as string).replace("<connection>", id))
      expect(listed.output).toMatch(/\d+\.manifest\.json[\s\S]*\d+\.ndjson|\d+\.ndjson[\s\S]*\d+\.manifest\.json/)
    }, 120_000)
  },
)
