// Writes dist/definitions.json and dist/library/definitions.json: every definition in connectors/,
// loaded now, keyed as `runner/catalog/prebuilt.ts` looks them up. Run by scripts/build.mjs.
import { readFileSync, writeFileSync } from "node:fs"
import { basename } from "node:path"
import { loadDefinitionText } from "../core/load.ts"
import { CONNECTORS_DIR, connectorFiles } from "../runner/catalog/catalog.ts"
import { prebuiltKey } from "../runner/catalog/prebuilt.ts"

const results: Record<string, unknown> = {}
for (const path of connectorFiles(CONNECTORS_DIR)) {
  const text = readFileSync(path, "utf8")
  results[prebuiltKey(path, text)] = loadDefinitionText(basename(path), text)
}
const json = JSON.stringify(results)
for (const out of ["dist/definitions.json", "dist/library/definitions.json"]) writeFileSync(out, json)
