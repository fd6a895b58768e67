/**
 * cli-startup: what one CLI command costs from a cold start, each a new process from the bundled dist/.
 * - `keyway connectors --json` against `node -e 0`, alternating, after a warm-up of each (goal: under
 *   200 ms above bare Node).
 * - The peak RSS of one `keyway connect activtrak` (goal: under 90 MB), saving to a new KEYWAY_HOME,
 *   against a minimal loopback server reached through KEYWAY_SANDBOX_URL (the only way a credential
 *   may go to loopback): no fakes and no msw are loaded, as against a real vendor.
 *
 *   npm run bench -- cli-startup        (RUNS=10 to change)
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { compare, report, spread } from "./harness.ts"
import { startMinimalServer } from "./support/minimal-server.ts"

const RUNS = Number(process.env.RUNS ?? 10)
const BIN = new URL("../bin/keyway.js", import.meta.url).pathname
const PEAK_RSS = new URL("./support/peak-rss.mjs", import.meta.url).pathname

const run = (args: string[]) => async () => {
  const result = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
  if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status}: ${result.stderr}`)
  return 1
}

const stats = await compare(
  [
    { name: "keyway connectors --json", run: run([BIN, "connectors", "--json"]) },
    { name: "node -e 0", run: run(["-e", "0"]) },
  ],
  { rounds: RUNS, warmup: 2 },
)

/** One `keyway connect` in a new process and a new home: its peak RSS in MB. */
const server = await startMinimalServer()
const connectPeaks: number[] = []
try {
  for (let i = 0; i < Math.max(3, Math.ceil(RUNS / 2)); i++) {
    const dir = mkdtempSync(join(tmpdir(), "keyway-connect-rss-"))
    // Asynchronously, so the server in this process answers while the command runs.
    const child = spawn(process.execPath, ["--import", PEAK_RSS, BIN, "connect", "activtrak", "--sandbox", "--json"], {
      env: {
        ...process.env,
        KEYWAY_HOME: join(dir, "home"),
        KEYWAY_SANDBOX_URL: server.origin,
        PEAK_RSS_FILE: join(dir, "peak"),
      },
      stdio: ["pipe", "ignore", "inherit"],
    })
    child.stdin.end(JSON.stringify({ apiKey: "bench-key-0123456789" }))
    const status = await new Promise((resolve) => child.once("exit", resolve))
    if (status !== 0) throw new Error(`keyway connect exited ${status}`)
    connectPeaks.push(Number(readFileSync(join(dir, "peak"), "utf8")))
  }
} finally {
  await server.close()
}

const [keyway, bare] = stats
report("cli-startup", stats, {
  millisecondsAboveBareNode: keyway && bare ? Math.round(keyway.medianMs - bare.medianMs) : null,
  connectPeakRssMb: spread(connectPeaks),
})
