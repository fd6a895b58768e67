/** `keyway schema [--write | --check]`: the JSON Schema for editors, derived from the effect Schema. */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { connectorJsonSchemaText } from "../../../core/json-schema.ts"
import { CONNECTORS_DIR } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import type { OptionSpecs } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const SCHEMA_FILE = join(CONNECTORS_DIR, "schema.json")

export const options = {
  write: { type: "boolean", description: "write connectors/schema.json" },
  check: { type: "boolean", description: "exit 2 when connectors/schema.json is stale" },
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values }, io) =>
  Effect.sync(() => {
    const text = connectorJsonSchemaText()
    if (values.write) {
      writeFileSync(SCHEMA_FILE, text)
      io.out(`wrote ${SCHEMA_FILE}\n`)
      return EXIT.ok
    }
    if (values.check) {
      const current = (() => {
        try {
          return readFileSync(SCHEMA_FILE, "utf8")
        } catch {
          return ""
        }
      })()
      if (current === text) return EXIT.ok
      io.err("connectors/schema.json is stale: run `npm run schema` and commit it\n")
      return EXIT.badInput
    }
    io.out(text)
    return EXIT.ok
  })
