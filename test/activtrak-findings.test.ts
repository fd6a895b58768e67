/**
 * ActivTrak review findings: a role 403 told apart from a plan 403, the Reports API setup step,
 * the facts no source gives marked as assumed, the help-center comment, and the filters a working-
 * hours report takes at most one of, checked before anything is sent.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { classify, parseJson } from "../core/classify.ts"
import type { ConnectorDefinition } from "../core/definition.ts"
import { loadDefinitionText } from "../core/load.ts"
import { createKeyway, type Keyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"

const FILE = join(import.meta.dirname, "..", "connectors", "activtrak.yaml")

let sandbox: Sandbox
let keyway: Keyway
let definition: ConnectorDefinition

beforeAll(async () => {
  sandbox = await startSandbox({ records: 20 })
  const home = mkdtempSync(join(tmpdir(), "keyway-activtrak-"))
  keyway = createKeyway({ sandboxUrl: sandbox.url, store: { home, url: undefined, workspace: "activtrak" }, env: {} })
  const loaded = loadDefinitionText(FILE, readFileSync(FILE, "utf8"))
  if (!loaded.definition) throw new Error(`activtrak.yaml does not load: ${JSON.stringify(loaded.problems)}`)
  definition = loaded.definition
})
afterAll(async () => {
  await keyway.close()
  await sandbox.stop()
})

const check = (key: string) => keyway.test({ connectorId: "activtrak", credentials: { apiKey: key } })

describe("ActivTrak 403: plan or role", () => {
  it("a role 403 is insufficient_permissions, with advice about the key owner's role, not the tier", async () => {
    const result = await check("sandbox-forbidden")
    expect(result.verdict.outcome).toBe("insufficient_permissions")
    expect(result.verdict.vendorMessage).toBe("Your role does not have access to this report.")
    expect(result.verdict.message).toMatch(/role/)
    expect(result.verdict.remediation).toMatch(/owner/)
    expect(result.verdict.remediation).toMatch(/read reports/)
    expect(result.verdict.remediation).not.toMatch(/subscription tier/)
  })

  it("a plan 403 is still plan_not_eligible, with the tier advice", async () => {
    const result = await check("sandbox-plan")
    expect(result.verdict.outcome).toBe("plan_not_eligible")
    expect(result.verdict.remediation).toMatch(/subscription tier \(Advanced Insights\)/)
    expect(result.verdict.message).not.toMatch(/role/)
  })
})

describe("ActivTrak definition text", () => {
  it("the setup steps ask for access to the Reports API to be enabled", () => {
    expect(definition.setup.steps.some((step) => /Reports API is enabled/i.test(step))).toBe(true)
  })

  it("marks the SCIM token's Bearer scheme and the Integrations menu path as assumed, with a reason", () => {
    const assumed = definition.assumed ?? []
    const bearer = assumed.find((line) => /Bearer/.test(line) && /SCIM/.test(line))
    const menu = assumed.find((line) => line.includes("API & Integrations > Integrations"))
    expect(bearer).toBeDefined()
    expect(menu).toBeDefined()
    for (const line of [bearer, menu]) expect(line).toMatch(/no source|not in any source|not documented/i)
  })

  it("does not claim that there is no help-center article", () => {
    expect(readFileSync(FILE, "utf8")).not.toMatch(/no separate help-center article/)
  })

  it("validation refuses an exclusiveParams group naming a param the stream does not declare", () => {
    const text = readFileSync(FILE, "utf8").replace(
      "exclusiveParams: [[groupId, clientId]]",
      "exclusiveParams: [[groupId, colour]]",
    )
    expect(text).toContain("[[groupId, colour]]")
    const loaded = loadDefinitionText(FILE, text)
    expect(loaded.definition).toBeUndefined()
    expect(loaded.problems.map((p) => p.message)).toContain('no param "colour" in this stream')
  })

  it("a 400 does not blame the test request, and judges only the request", () => {
    const text = JSON.stringify({ messages: ["Use at most one of clientId, groupId and deviceId"], success: false })
    const verdict = classify(
      definition,
      {
        kind: "response",
        facts: { status: 400, header: () => undefined, text, json: parseJson(text), truncated: false },
      },
      { secrets: [] },
    )
    expect(verdict.message).not.toMatch(/test request/)
    expect(verdict.scope).toBe("request")
  })
})

describe("ActivTrak working-hours filters: at most one of clientId, groupId, deviceId", () => {
  const pull = (connectionId: string, streamId: string, params: Record<string, string>) =>
    keyway.sync({
      connectionId,
      streamId,
      from: "2026-01-01",
      to: "2026-01-07",
      params,
      openSink: async () => ({
        describe: "memory",
        partial: undefined,
        write: async () => {},
        position: () => undefined,
        commit: async () => {},
        abort: async () => {},
      }),
    })

  it("two filters are refused before any request, naming both, as invalid input", async () => {
    const { connection } = await keyway.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
    if (!connection) throw new Error("could not save an ActivTrak connection")
    const error = await pull(connection.id, "workingHoursUsers", { groupId: "7", clientId: "3" }).catch(
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ _tag: "InvalidInput" })
    expect(String((error as Error).message)).toMatch(/groupId/)
    expect(String((error as Error).message)).toMatch(/clientId/)

    const computers = await pull(connection.id, "workingHoursComputers", { deviceId: "1003", groupId: "7" }).catch(
      (e: unknown) => e,
    )
    expect(computers).toMatchObject({ _tag: "InvalidInput" })
    expect(String((computers as Error).message)).toMatch(/deviceId/)
    expect(String((computers as Error).message)).toMatch(/groupId/)

    // One filter alone still works.
    await expect(pull(connection.id, "workingHoursUsers", { groupId: "7" })).resolves.toMatchObject({ records: 20 })
  })
})
