/**
 * The promise to onboarding engineers, proved: a fifth, made-up vendor's YAML is copied into a
 * temporary connectors folder, with no code, and validate, docs and the conformance suite all work on
 * it. The output of `keyway new` joins it, scaffolded as an engineer would start.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { scaffoldDefinition } from "../runner/authoring/scaffold.ts"
import { cli } from "./support/cli.ts"
import { registerConformanceSuite } from "./support/conformance.ts"

const root = mkdtempSync(join(tmpdir(), "keyway-fifth-"))
const connectors = join(root, "connectors")
mkdirSync(connectors)
copyFileSync(new URL("./fixtures/orbit-metrics.yaml", import.meta.url), join(connectors, "orbit-metrics.yaml"))
writeFileSync(
  join(connectors, "acme.yaml"),
  scaffoldDefinition({
    id: "acme",
    name: "Acme",
    baseUrl: "https://api.acme.example",
    auth: "header",
    testPath: "/v1/me",
  }),
)

describe("a fifth vendor, added with no code", () => {
  it("validates", async () => {
    const result = await cli(["validate", join(connectors, "orbit-metrics.yaml"), join(connectors, "acme.yaml")])
    expect(result).toMatchObject({ code: 0, stdout: "2 of 2 definitions valid; 0 errors, 0 warnings\n" })
  })

  it("gets its customer page and an index", async () => {
    const out = join(root, "docs")
    const result = await cli(["docs", "--connectors", connectors, "--out", out])
    expect(result.code).toBe(0)
    const page = readFileSync(join(out, "orbit-metrics.md"), "utf8")
    expect(page).toContain("# Connect Orbit Metrics")
    expect(page).toContain("curl -u '<Account email>:<API token>' 'https://app.orbit-metrics.example/api/v1/workspace'")
    expect(page).toContain(
      '| 403 | the body says "plan" | `plan_not_eligible` | the credentials | The workspace\'s plan has no API access. | Upgrade to the Growth plan or above. |',
    )
    expect(page).toContain("- API token: Tokens expire 90 days after creation.")
    expect(readFileSync(join(out, "README.md"), "utf8")).toContain("[Orbit Metrics](orbit-metrics.md)")
    expect((await cli(["docs", "--check", "--connectors", connectors, "--out", out])).code).toBe(0)
  })

  it("`keyway new` scaffolds the same kind of file, and refuses to overwrite one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyway-new-"))
    const made = await cli([
      "new",
      "zeta",
      "--name",
      "Zeta",
      "--base-url",
      "https://api.zeta.example",
      "--auth",
      "query",
      "--test-path",
      "/ping",
      "--dir",
      dir,
    ])
    expect(made.code).toBe(0)
    expect((await cli(["validate", join(dir, "zeta.yaml")])).code).toBe(0)
    const again = await cli([
      "new",
      "zeta",
      "--name",
      "Zeta",
      "--base-url",
      "https://api.zeta.example",
      "--test-path",
      "/ping",
      "--dir",
      dir,
    ])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain("never overwrites")
  })
})

registerConformanceSuite(connectors, "a fifth vendor and a scaffolded one")
