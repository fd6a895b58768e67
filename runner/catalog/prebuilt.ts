/**
 * Definitions loaded when Keyway is built: the build loads every file in `connectors/` and writes
 * the results beside the bundle (`definitions.json`), keyed by a hash of each file's name and text.
 * Loading a shipped definition is then a lookup instead of a YAML parse, a schema decode and the
 * lint rules, cold (92 ms of `keyway connectors`). A file edited or added since is not in it and is
 * loaded as always; run from the sources, there is no such file and everything is loaded. This module
 * does not load the loader (`core/load.ts`): a command whose files are all prebuilt never compiles it.
 */
import { hash } from "node:crypto"
import { readFileSync } from "node:fs"
import { basename } from "node:path"
import type { LoadResult } from "../../core/problem.ts"

/** The file name counts as well as the text: the id must match it. */
export const prebuiltKey = (file: string, text: string): string => hash("sha256", `${basename(file)}\0${text}`, "hex")

let saved: ReadonlyMap<string, LoadResult> | undefined
const prebuiltResults = (): ReadonlyMap<string, LoadResult> => {
  if (!saved) {
    try {
      const json = JSON.parse(readFileSync(new URL("./definitions.json", import.meta.url), "utf8"))
      saved = new Map(Object.entries(json as Record<string, LoadResult>))
    } catch {
      saved = new Map()
    }
  }
  return saved
}

/** The build's result for this file, when it is one of those, unchanged; otherwise undefined. */
export const prebuiltFrom = (
  saved: ReadonlyMap<string, LoadResult>,
  file: string,
  text: string,
): LoadResult | undefined => {
  const found = saved.get(prebuiltKey(file, text))
  // Saved under the file's name alone; shown as the caller names it.
  return found && { ...found, file, problems: found.problems.map((problem) => ({ ...problem, file })) }
}

/** The build's result for this file, when it is one of the shipped files, unchanged. */
export const prebuilt = (file: string, text: string): LoadResult | undefined =>
  prebuiltFrom(prebuiltResults(), file, text)
