/**
 * A corpus of real vendors, written from their public API docs (test/corpus/): together they use
 * every feature of the definition format that the four first vendors do not. Each passes
 * `keyway validate --strict`, the standard conformance suite, and connects in the sandbox through the
 * CLI with the credentials and settings the sandbox prints.
 */
import { mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadConnectorDirNow } from "../runner/catalog/load-now.ts"
import { derivedFakeInput } from "../runner/sandbox/scenarios.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { cli } from "./support/cli.ts"
import { registerConformanceSuite } from "./support/conformance.ts"

const CORPUS = new URL("./corpus/", import.meta.url).pathname
const files = readdirSync(CORPUS).filter((name) => name.endsWith(".yaml"))
const definitions = loadConnectorDirNow(CORPUS).flatMap((r) => (r.definition ? [r.definition] : []))

describe("the corpus of real vendors", () => {
  it("holds at least 10 definitions, which between them use every feature the first four do not", () => {
    expect(files.length).toBeGreaterThanOrEqual(10)
    const uses = {
      graphqlPost: definitions.some((d) => d.test.requests.some((r) => r.method === "POST" && r.body !== undefined)),
      subdomain: definitions.some((d) => /\$\{settings\.[^}]+\}\.[a-z]/.test(d.baseUrl.url)),
      hostSetting: definitions.some((d) => (d.settings ?? []).some((s) => s.type === "host")),
      queryKey: definitions.some((d) => d.auth.some((p) => p.in === "query")),
      basicAuth: definitions.some((d) => d.auth.some((p) => p.in === "basic")),
      accountIdInPath: definitions.some((d) => d.test.requests.some((r) => r.path.includes("${credentials."))),
      customWaitHeader: definitions.some((d) => d.rateLimit.waitHeaders.some((w) => typeof w !== "string")),
      regionEnum: definitions.some((d) => d.baseUrl.bySetting !== undefined),
      versionedHeader: definitions.some((d) => d.headers !== undefined),
      signer: definitions.some((d) => d.auth.some((p) => p.in === "signer")),
      examples: definitions.some((d) => d.credentials.some((c) => c.examples !== undefined)),
      assumed: definitions.every((d) => (d.assumed ?? []).length > 0),
    }
    expect(uses).toEqual(Object.fromEntries(Object.keys(uses).map((key) => [key, true])))
  })

  it("every file passes validate --strict", async () => {
    const run = await cli(["validate", "--strict", ...files.map((name) => join(CORPUS, name))])
    expect(run.stdout + run.stderr).toContain(
      `${files.length} of ${files.length} definitions valid; 0 errors, 0 warnings`,
    )
    expect(run.code).toBe(0)
  })

  describe("connect --sandbox, with the credentials and settings keyway sandbox lists", () => {
    let sandbox: Sandbox
    const env = () => ({
      KEYWAY_CONNECTORS: CORPUS,
      KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-corpus-")),
      KEYWAY_SANDBOX_URL: sandbox.url,
    })
    let listed: Array<{ connector: string; credentials: Record<string, string>; settings: Record<string, string> }>
    beforeAll(async () => {
      sandbox = await startSandbox({ handwritten: false, generic: definitions })
      // What `keyway sandbox` prints and `sandbox --json` lists for each derived fake.
      listed = definitions.map((definition) => ({ connector: definition.id, ...derivedFakeInput(definition) }))
    })
    afterAll(() => sandbox.stop())

    for (const name of files) {
      const id = name.replace(/\.yaml$/, "")
      it(`${id} connects`, async () => {
        const fake = listed.find((entry) => entry.connector === id)
        expect(fake).toBeDefined()
        const settings = Object.entries(fake?.settings ?? {}).flatMap(([key, value]) => [
          "--setting",
          `${key}=${value}`,
        ])
        const run = await cli(["connect", id, "--sandbox", "--json", ...settings], {
          env: env(),
          stdin: JSON.stringify(fake?.credentials),
        })
        expect(run.stderr).toBe("")
        expect(JSON.parse(run.stdout).result.verdict.outcome).toBe("connected")
        expect(run.code).toBe(0)
      })
    }
  })
})

registerConformanceSuite(CORPUS, "test/corpus/")
