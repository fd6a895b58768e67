/**
 * `connectors/schema.json`, for editors, derived from the effect Schema so the two never drift.
 * A test fails when the committed file is stale; `npm run schema` rewrites it.
 */
import * as JSONSchema from "effect/JSONSchema"
import { ConnectorDefinition } from "./definition.ts"

export const connectorJsonSchemaText = (): string => {
  const schema = JSONSchema.make(ConnectorDefinition)
  // Editors read `$schema` from the YAML's modeline; title the file for people reading it.
  return `${JSON.stringify(schema, null, 2)}\n`
}
