/**
 * cli-startup: `keyway connectors --json`, cold (a new process each time), against `node -e 0`,
 * alternating, after a warm-up of each. Goal: under 300 ms above bare Node.
 *
 *   npm run bench -- cli-startup        (RUNS=... to change)
 */
import { spawnSync } from "node:child_process"
import { compare, report } from "./harness.ts"

const BIN = new URL("../bin/keyway.js", import.meta.url).pathname
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
  { rounds: Number(process.env.RUNS ?? 10), warmup: 2 },
)
const [keyway, bare] = stats
report("cli-startup", stats, {
  millisecondsAboveBareNode: keyway && bare ? Math.round(keyway.medianMs - bare.medianMs) : null,
})
