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

  it("describes every field of the format's later additions, for editors' hover help", () => {
    const schema = JSON.parse(connectorJsonSchemaText())
    // The schema is inlined: collect each titled object wherever it appears.
    const byTitle = new Map<string, { properties?: Record<string, { description?: string }> }>()
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(visit)
      else if (node && typeof node === "object") {
        const record = node as Record<string, unknown>
        if (typeof record.title === "string" && record.properties) byTitle.set(record.title, record as never)
        Object.values(record).forEach(visit)
      }
    }
    visit(schema)
    const fields: Record<string, string[]> = {
      "Keyway connector definition": ["assumed", "headers"],
      Credential: ["secret", "examples"],
      Setting: ["type", "pattern", "examples"],
      TestRequest: ["headers", "body", "unsafeMethodReason"],
      Probe: ["headers", "body"],
      ReportStream: ["headers"],
      SignerPlacement: ["signer", "with"],
      CustomWaitHeader: ["name", "unit"],
      RateLimit: ["waitHeaders"],
    }
    const undescribed = Object.entries(fields).flatMap(([title, names]) =>
      names
        // A bare pattern's generated text ("a string matching the pattern ...") is no help to a reader.
        .filter((name) => {
          const description = byTitle.get(title)?.properties?.[name]?.description ?? ""
          return description === "" || description.startsWith("a string matching the pattern")
        })
        .map((name) => `${title}.${name}`),
    )
    expect(undescribed).toEqual([])
  })
})
