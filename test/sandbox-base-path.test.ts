/**
 * The sandbox keeps each base URL's path: a vendor at `https://api.nimbus-ledger.example/api/v1` is
 * served at `<sandbox>/nimbus-ledger/api/v1`, and the runner sends its requests there. A definition
 * that leaves the path out of its base URL (so its requests miss `/api/v1`) fails conformance, as it
 * would fail against the vendor; before, the sandbox threw the path away and it passed.
 */
import * as Either from "effect/Either"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sandboxBaseUrl } from "../core/base-url.ts"
import type { ConnectorDefinition } from "../core/definition.ts"
import { prepare } from "../core/prepare.ts"
import { loadConnectorDirNow } from "../runner/catalog/load-now.ts"
import { derivedFakeInput } from "../runner/sandbox/scenarios.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { runConformance } from "./support/conformance.ts"

const [vendor] = loadConnectorDirNow(new URL("./fixtures/derived/", import.meta.url).pathname).flatMap((r) =>
  r.definition ? [r.definition] : [],
)
const definition = vendor as ConnectorDefinition
/** The same definition with its base URL's path dropped: its request paths now miss `/api/v1`. */
const pathDropped: ConnectorDefinition = {
  ...definition,
  baseUrl: { ...definition.baseUrl, url: "https://api.nimbus-ledger.example" },
}

describe("the sandbox serves each vendor under its base URL's path", () => {
  let sandbox: Sandbox
  beforeAll(async () => {
    sandbox = await startSandbox({ handwritten: false, generic: [definition] })
  })
  afterAll(() => sandbox.stop())

  it("the made-up vendor's base URL has a path", () => {
    expect(definition.baseUrl.url).toBe("https://api.nimbus-ledger.example/api/v1")
  })

  it("sandbox mode keeps the real base URL's path after the connector's prefix", () => {
    const { credentials, settings } = derivedFakeInput(definition)
    const prepared = prepare(definition, { connectorId: definition.id, credentials, settings }, sandbox.url)
    expect(Either.isRight(prepared) && prepared.right.baseUrl.href).toBe(`${sandbox.url}/nimbus-ledger/api/v1`)
    const root = sandboxBaseUrl("trackvia", "http://127.0.0.1:4010", "/")
    expect(Either.isRight(root) && root.right.href).toBe("http://127.0.0.1:4010/trackvia")
    expect(sandbox.baseUrls["nimbus-ledger"]).toBe(`${sandbox.url}/nimbus-ledger/api/v1`)
  })

  it("the derived fake answers under the path, and 404 without it", async () => {
    const { credentials } = derivedFakeInput(definition)
    const headers = { Authorization: `Bearer ${credentials.apiKey}` }
    const under = await fetch(`${sandbox.url}/nimbus-ledger/api/v1/account`, { headers })
    expect(under.status).toBe(200)
    expect(await under.json()).toMatchObject({ account: { id: expect.any(String) } })
    const without = await fetch(`${sandbox.url}/nimbus-ledger/account`, { headers })
    expect(without.status).toBe(404)
    const stream = await fetch(`${sandbox.url}/nimbus-ledger/currencies`, { headers })
    expect(stream.status).toBe(404)
  })

  it("a definition whose base URL has a path passes conformance", async () => {
    expect(await runConformance([definition])).toEqual([])
  })

  it("the same definition with the base URL's path dropped fails conformance against the vendor", async () => {
    const failures = await runConformance([pathDropped], { fakes: [definition] })
    const failed = failures.map((f) => f.scenario)
    expect(failed).toContain("a valid credential gives connected")
    expect(failed).toContain("a wrong credential gives the definition's 401 outcome")
    for (const stream of definition.reports ?? []) {
      expect(failed).toContain(`stream ${stream.id} syncs at least one page of records`)
    }
    expect(failures.find((f) => f.scenario === "a valid credential gives connected")?.error).toMatch(/not_found/)
  })
})
