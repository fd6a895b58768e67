/**
 * `npm run bench` runs every benchmark; `npm run bench -- <name>` runs one. Each is a script in
 * this folder that prints its table and writes bench/results/<name>.json.
 */
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"

const here = new URL("./", import.meta.url)
/** Overhead first, then throughput, rate limits, start-up and the service. */
const ORDER = [
  "save-and-test-sequential.ts",
  "save-and-test-concurrent.ts",
  "sync-throughput.ts",
  "rate-limit-efficiency.ts",
  "cli-startup.ts",
  "sandbox-paging.ts",
  "serve-save-and-test.ts",
]
const available = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && !["run.ts", "harness.ts"].includes(file))
  .sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))
  .map((file) => file.replace(/\.ts$/, ""))
const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !available.includes(name))
if (unknown.length > 0) {
  console.error(`no benchmark ${unknown.join(", ")}; available: ${available.join(", ")}`)
  process.exit(2)
}
for (const name of wanted.length > 0 ? wanted : available) {
  const result = spawnSync(process.execPath, ["--import", "tsx", new URL(`./${name}.ts`, here).pathname], {
    stdio: "inherit",
    env: process.env,
  })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
