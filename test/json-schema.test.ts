import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { connectorJsonSchemaText } from "../core/json-schema.ts"

describe("connectors/schema.json", () => {
  it("is what the effect Schema generates today (run `npm run schema` if this fails)", () => {
    const committed = readFileSync(new URL("../connectors/schema.json", import.meta.url), "utf8")
    expect(committed).toBe(connectorJsonSchemaText())
  })

  it("is referenced by every definition's yaml-language-server modeline", () => {
    for (const id of ["activtrak", "activityinfo", "peopletray", "trackvia"]) {
      const text = readFileSync(new URL(`../connectors/${id}.yaml`, import.meta.url), "utf8")
      expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./schema.json")
    }
  })

  it("carries the documentation annotations and rejects unknown keys", () => {
    const schema = JSON.parse(connectorJsonSchemaText())
    const definition = schema.$defs.ConnectorDefinition
    expect(definition.additionalProperties).toBe(false)
    expect(definition.properties.baseUrl.properties.allowedHosts.description).toMatch(/allowed|sent to/)
  })
})
