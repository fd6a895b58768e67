/**
 * Definitions loaded when Keyway is built: the build loads every file in `connectors/` and writes
 * the results beside the bundle (`definitions.json`), keyed by a hash of each file's name and text.
 * Loading a shipped definition is then a lookup instead of a YAML parse, a schema decode and the
 * lint rules, cold (92 ms of `keyway connectors`). A file edited or added since is not in it and is
 * loaded as always; run from the sources, there is no such file and everything is loaded.
 */
import { hash } from "node:crypto"
import { readFileSync } from "node:fs"
import { basename } from "node:path"
import { type LoadResult, loadDefinitionText } from "../../core/load.ts"

/** The file name counts as well as the text: the id must match it. */
export const prebuiltKey = (file: string, text: string): string => hash("sha256", `${basename(file)}\0${text}`, "hex")

let prebuilt: ReadonlyMap<string, LoadResult> | undefined
const prebuiltResults = (): ReadonlyMap<string, LoadResult> => {
  if (!prebuilt) {
    try {
      const saved = JSON.parse(readFileSync(new URL("./definitions.json", import.meta.url), "utf8"))
      prebuilt = new Map(Object.entries(saved as Record<string, LoadResult>))
    } catch {
      prebuilt = new Map()
    }
  }
  return prebuilt
}

/** `loadDefinitionText`, answered from `saved` when the file is one of those, unchanged. */
export const loadDefinitionFrom = (saved: ReadonlyMap<string, LoadResult>, file: string, text: string): LoadResult => {
  const found = saved.get(prebuiltKey(file, text))
  if (!found) return loadDefinitionText(file, text)
  // Saved under the file's name alone; shown as the caller names it.
  return { ...found, file, problems: found.problems.map((problem) => ({ ...problem, file })) }
}

/** `loadDefinitionText`, answered from the build's results when the file is one of them, unchanged. */
export const loadDefinition = (file: string, text: string): LoadResult =>
  loadDefinitionFrom(prebuiltResults(), file, text)
