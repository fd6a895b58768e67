// Whether dist/ is newer than everything it is built from. `npm install` runs the build as its
// prepare script, and so does a first `npx keyway` (npx installs this directory into its own cache,
// which runs prepare here, in place): with dist/ already current, each rebuilt it all, 12 seconds,
// and a keyway process started while dist/ was being replaced could not load its chunks.
import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"

/** What the build writes; the first is written first, so it is the oldest. */
export const BUILT = [
  "dist/main.js",
  "dist/library/index.js",
  "dist/library/effect.js",
  "dist/types/runner/library/index.d.ts",
  "dist/definitions.json",
  "dist/library/definitions.json",
]

/**
 * What the build reads: the sources, the shipped definitions, the build's own scripts, and the
 * installed dependencies (effect, yaml and @effect/platform are bundled), which npm records in
 * node_modules/.package-lock.json at each install, before it runs prepare.
 */
const SOURCE_DIRS = ["core", "runner", "fixtures", "connectors", "scripts"]
const SOURCE_FILES = ["package.json", "package-lock.json", "tsconfig.json", "node_modules/.package-lock.json"]

const mtimeOf = (path) => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return undefined
  }
}

const newestUnder = (dir) => {
  let newest = 0
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const entry of entries) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(path) : (mtimeOf(path) ?? 0))
  }
  return newest
}

/** True when every output exists and the oldest of them is newer than the newest input. */
export const distIsFresh = (root) => {
  const built = BUILT.map((file) => mtimeOf(join(root, file)))
  if (built.some((mtime) => mtime === undefined)) return false
  const newestInput = Math.max(
    ...SOURCE_DIRS.map((dir) => newestUnder(join(root, dir))),
    ...SOURCE_FILES.map((file) => mtimeOf(join(root, file)) ?? 0),
  )
  return Math.min(...built) > newestInput
}
