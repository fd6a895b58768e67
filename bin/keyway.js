#!/usr/bin/env node
// Keyway's CLI entry. It runs the bundle in dist/ (built by `npm install`) when that is newer than
// every TypeScript source, and otherwise the sources themselves through tsx, so an edit is never
// run stale.
import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"

// The short commands (a connect, a listing) are over in milliseconds: optimising compilers and a
// growing young generation cost them a third of their peak memory (bench/cli-startup.ts) and buy
// nothing. Commands that run long or work hard (serve, sync, validate...) keep V8's defaults.
const SHORT = new Set(["connect", "connections", "streams", "workspaces", "webhooks", "help"])
if (SHORT.has(process.argv[2] ?? "")) {
  setFlagsFromString("--no-opt")
  setFlagsFromString("--liftoff-only")
  setFlagsFromString("--semi-space-growth-factor=1")
}

// A server's heap grew to about four times what it held before V8 collected it: under 100 checks at
// once, `keyway serve` peaked at 204-217 MB with some 25 MB live. Growing it by half at a time
// keeps the peak near 145 MB, at the same throughput and latency (bench/serve-save-and-test.ts).
// A growth given on node's own command line wins. (`keyway worker` peaked the same either way: bench/fleet.ts.)
if (process.argv[2] === "serve" && !process.execArgv.some((flag) => flag.includes("heap-growing-percent"))) {
  setFlagsFromString("--heap-growing-percent=50")
}

const root = fileURLToPath(new URL("..", import.meta.url))
const newestSource = () => {
  let newest = 0
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) visit(path)
      else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs)
    }
  }
  for (const dir of ["core", "runner", "fixtures"]) visit(join(root, dir))
  return newest
}
const bundle = join(root, "dist", "main.js")
let fresh = false
try {
  fresh = statSync(bundle).mtimeMs >= newestSource()
} catch {
  fresh = false
}
let cli
if (fresh) {
  cli = await import(bundle)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  cli = await import("../runner/cli/main.ts")
}
await cli.runFromProcess()
