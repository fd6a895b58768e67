/** `keyway validate` and `keyway connectors`, as a user runs them: exit codes, output, and no stack traces. */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { minimalWith } from "./minimal-definition.ts"
import { cli } from "./support/cli.ts"

const keyway = (...args: string[]) => cli(args)

describe("keyway validate", () => {
  it("passes the shipped definitions", async () => {
    const result = await keyway("validate")
    expect(result).toMatchObject({ code: 0, stderr: "" })
    expect(result.stdout).toBe("4 of 4 definitions valid; 0 errors, 0 warnings\n")
  })

  it("prints every problem in every file as file:line:col, exits 2, and never a stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyway-validate-"))
    writeFileSync(join(dir, "acme.yaml"), minimalWith("url: https://api.acme.example", "url: http://api.acme.example"))
    writeFileSync(join(dir, "broken.yaml"), "id: broken\nname: [\n")
    const result = await keyway("validate", join(dir, "acme.yaml"), join(dir, "broken.yaml"), join(dir, "absent.yaml"))
    expect(result.code).toBe(2)
    const lines = result.stderr.trim().split("\n")
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/acme\.yaml:23:8 baseUrl\.url: "http:\/\/api\.acme\.example" is not https/)
    expect(lines[1]).toMatch(/broken\.yaml:3:1 /)
    expect(lines[2]).toMatch(/absent\.yaml:1:1 cannot read the file \(ENOENT\)/)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    expect(result.stdout).toBe("0 of 3 definitions valid; 3 errors, 0 warnings\n")
  })

  it("--strict turns warnings into errors, and says so on each line and in the count", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyway-strict-"))
    const file = join(dir, "acme.yaml")
    writeFileSync(file, minimalWith("  - in: header\n    name: X-Api-Key", "  - in: query\n    name: api_key"))
    expect((await keyway("validate", file)).code).toBe(0)
    const strict = await keyway("validate", "--strict", file)
    expect(strict.code).toBe(2)
    expect(strict.stderr).toMatch(/acme\.yaml:27:5 auth\[0\]: credential in query parameter "api_key" has no reason/)
    expect(strict.stderr).not.toMatch(/ warning /)
    expect(strict.stdout).toBe("0 of 1 definitions valid; 1 error, 0 warnings\n")
  })

  it("gives machine-readable output with --json", async () => {
    const result = await keyway("validate", "--json")
    const parsed = JSON.parse(result.stdout)
    expect(parsed.ok).toBe(true)
    expect(parsed.files.map((f: { id: string }) => f.id)).toEqual([
      "activityinfo",
      "activtrak",
      "peopletray",
      "trackvia",
    ])
  })

  it("answers an unknown command with a one-line usage error and exit code 2", async () => {
    const result = await keyway("frobnicate")
    expect(result).toEqual({
      code: 2,
      stdout: "",
      stderr: 'keyway: unknown command "frobnicate". See npx keyway --help.\n',
    })
  })
})

describe("keyway connectors", () => {
  it("shows one connector's placements and error table, and refuses an unknown id", async () => {
    const shown = await keyway("connectors", "show", "activtrak")
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain("header x-api-key: ${credentials.apiKey}")
    expect(shown.stdout).toMatch(/403\s+plan_not_eligible/)
    const unknown = await keyway("connectors", "show", "nope")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toBe('keyway: no connector "nope"; one of: activityinfo, activtrak, peopletray, trackvia\n')
  })
})
