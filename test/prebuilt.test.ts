/**
 * The shipped definitions as the build loaded them (`runner/catalog/prebuilt.ts`): the same results
 * as loading each file now, and never an answer for a file that changed.
 */
import { existsSync, readFileSync } from "node:fs"
import { basename } from "node:path"
import { describe, expect, it } from "vitest"
import { type LoadResult, loadDefinitionText } from "../core/load.ts"
import { CONNECTORS_DIR, connectorFiles } from "../runner/catalog/catalog.ts"
import { prebuiltFrom, prebuiltKey } from "../runner/catalog/prebuilt.ts"
import { MINIMAL } from "./minimal-definition.ts"

const BUILT = new URL("../dist/definitions.json", import.meta.url)

describe("definitions loaded at build time", () => {
  it("dist/definitions.json holds, for each shipped file, what loading it gives now", () => {
    expect(existsSync(BUILT), "dist/ is built by npm install (npm run build)").toBe(true)
    const saved = new Map(Object.entries(JSON.parse(readFileSync(BUILT, "utf8")) as Record<string, LoadResult>))
    const files = connectorFiles(CONNECTORS_DIR)
    expect(saved.size).toBe(files.length)
    for (const path of files) {
      const text = readFileSync(path, "utf8")
      expect(saved.get(prebuiltKey(path, text))).toEqual(loadDefinitionText(basename(path), text))
    }
  })

  it("answers an unchanged file from what was saved, named as the caller names it", () => {
    const savedResult: LoadResult = { file: "acme.yaml", definition: undefined, problems: [] }
    const saved = new Map([[prebuiltKey("acme.yaml", MINIMAL), savedResult]])
    expect(prebuiltFrom(saved, "connectors/acme.yaml", MINIMAL)).toEqual({
      ...savedResult,
      file: "connectors/acme.yaml",
    })
  })

  it("has no answer for a changed file, or the same text under another name", () => {
    const stale: LoadResult = { file: "acme.yaml", definition: undefined, problems: [] }
    const saved = new Map([[prebuiltKey("acme.yaml", MINIMAL), stale]])
    expect(prebuiltFrom(saved, "connectors/acme.yaml", `${MINIMAL}# an edit\n`)).toBeUndefined()
    expect(prebuiltFrom(saved, "connectors/other.yaml", MINIMAL)).toBeUndefined()
  })
})
