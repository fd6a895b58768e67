/**
 * The newcomer's first five minutes, in-process: help everywhere, suggestions for mistypes, validate
 * showing every problem in one run, connections update, expiry set and warned, the sandbox's JSON,
 * and the sync's progress line.
 */
import { describe, expect, it } from "vitest"
import { loadDefinitionText } from "../core/load.ts"
import { COMMANDS } from "../runner/cli/main.ts"
import { MINIMAL } from "./minimal-definition.ts"
import { cli } from "./support/cli.ts"

describe("help everywhere", () => {
  it("keyway --help lists every command, and says how to get a command's help", async () => {
    const run = await cli(["--help"])
    expect(run.code).toBe(0)
    for (const name of Object.keys(COMMANDS)) expect(run.stdout).toContain(`keyway ${name}`)
    expect(run.stdout).toContain("keyway help <command>")
  })

  for (const name of Object.keys(COMMANDS)) {
    it(`keyway help ${name} and keyway ${name} --help print its usage, options and an example`, async () => {
      const viaHelp = await cli(["help", name])
      const viaFlag = await cli([name, "--help"])
      expect(viaHelp.code).toBe(0)
      expect(viaFlag).toEqual(viaHelp)
      expect(viaHelp.stdout).toMatch(new RegExp(`^Usage: keyway ${name}`))
      expect(viaHelp.stdout).toContain("Options:\n")
      expect(viaHelp.stdout).toContain("--json")
      expect(viaHelp.stdout).toMatch(new RegExp(`Examples:\\n  npx keyway ${name}`))
    })
  }

  it("keyway new --help is help, not an unknown option", async () => {
    const run = await cli(["new", "--help"])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("--base-url URL")
    expect(run.stderr).toBe("")
  })
})

describe("a mistype suggests the nearest", () => {
  it.each([
    [["conect", "activtrak"], 'unknown command "conect"; did you mean connect?'],
    [["help", "synk"], 'unknown command "synk"; did you mean sync?'],
    [["sync", "x", "y", "--otu", "f"], "unknown option --otu; did you mean --out? See keyway help sync."],
    [["connections", "tset"], 'unknown action "tset"; did you mean test?'],
    [["connectors", "shwo"], 'unknown action "shwo"; did you mean show?'],
    [["frobnicate"], 'unknown command "frobnicate". See keyway --help.'],
  ])("keyway %j", async (args, message) => {
    const run = await cli(args)
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(
      `keyway: ${message}${message.endsWith(".") ? "" : ` See keyway ${args[0] === "sync" ? "help sync" : args[0] === "connections" ? "help connections" : args[0] === "connectors" ? "help connectors" : "--help"}.`}\n`,
    )
  })

  it("an option named like a secret is refused with why, and its value is never printed", async () => {
    const run = await cli(["connect", "activtrak", "--auth-token=s3cr3t-value"])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/secrets are never taken as arguments \(--auth-token\)/)
    expect(run.stderr).not.toContain("s3cr3t")
  })
})

describe("validate reports every problem at once", () => {
  // Three schema problems, in values no rule reads, and semantic problems elsewhere.
  const broken = MINIMAL.replace("category: testing\n", "category: testing\ncolour: blue\n")
    .replace("    description: Under Settings > API.\n", "    description: 42\n")
    .replace("  maxAttempts: 5\n", "  maxAttempts: lots\n")
    .replace("    value: ${credentials.apiKey}\n", "    value: ${credentials.apiKye}\n")
    .replace("    - path: /v1/me\n", "    - path: /v1/me\n      method: POST\n")
  const codes = (text: string) =>
    loadDefinitionText("connectors/acme.yaml", text).problems.map((p) => `${p.code} ${p.path}`)

  it("schema and semantic problems in one run", () => {
    const found = codes(broken)
    expect(found).toEqual(
      expect.arrayContaining([
        "unknown-key colour",
        "schema credentials[0].description",
        "schema rateLimit.maxAttempts",
        "template-unknown-name auth[0].value",
        "test-not-read-only test.requests[0].method",
      ]),
    )
  })

  it("fixing the schema problems reveals nothing new (a rule is skipped only when it reads a broken value)", () => {
    const fixed = broken
      .replace("colour: blue\n", "")
      .replace("    description: 42\n", "    description: Under Settings > API.\n")
      .replace("  maxAttempts: lots\n", "  maxAttempts: 5\n")
    const before = new Set(codes(broken))
    const after = codes(fixed)
    expect(after.length).toBeGreaterThan(0)
    for (const problem of after) expect(before).toContain(problem)
  })
})
