/**
 * Which packages a process loaded, from the log `load-log.mjs` writes (run the process with
 * `NODE_OPTIONS=--import <LOAD_LOG_PRELOAD>` and `LOAD_LOG=<file>`): those resolved from
 * node_modules, and those bundled into the dist/ chunks it loaded (esbuild marks each module it
 * bundles with a `// node_modules/<package>/...` line).
 */
import { readFileSync } from "node:fs"

export const LOAD_LOG_PRELOAD = new URL("./load-log.mjs", import.meta.url).pathname

export const packagesLoaded = (log: string): ReadonlySet<string> => {
  const urls = readFileSync(log, "utf8").split("\n")
  const bundled = urls
    .filter((loaded) => /\/dist\/[^/]+\.js$/.test(loaded))
    .map((loaded) => readFileSync(new URL(loaded), "utf8"))
  return new Set(
    [...urls, ...bundled].flatMap((text) =>
      [...text.matchAll(/node_modules\/((?:@[^/\s]+\/)?[^/\s]+)\//g)].map((m) => m[1] as string),
    ),
  )
}
