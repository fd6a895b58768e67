/**
 * The newcomer's first five minutes, in-process: help everywhere, suggestions for mistypes, validate
 * showing every problem in one run, connections update, expiry set and warned, the sandbox's JSON,
 * and the sync's progress line.
 */
import { cpSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadDefinitionText } from "../core/load.ts"
import { CONNECTORS_DIR } from "../runner/catalog/catalog.ts"
import { COMMANDS } from "../runner/cli/main.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
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
    [["sync", "x", "y", "--otu", "f"], "unknown option --otu; did you mean --out? See npx keyway help sync."],
    [["connections", "tset"], 'unknown action "tset"; did you mean test?'],
    [["connectors", "shwo"], 'unknown action "shwo"; did you mean show?'],
    [["frobnicate"], 'unknown command "frobnicate". See npx keyway --help.'],
  ])("keyway %j", async (args, message) => {
    const run = await cli(args)
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(
      `keyway: ${message}${message.endsWith(".") ? "" : ` See npx keyway ${args[0] === "sync" ? "help sync" : args[0] === "connections" ? "help connections" : args[0] === "connectors" ? "help connectors" : "--help"}.`}\n`,
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

describe("connections update, expiry and progress, against the sandbox", () => {
  let sandbox: Sandbox
  const home = mkdtempSync(join(tmpdir(), "keyway-newcomer-"))
  let env: Record<string, string>
  beforeAll(async () => {
    sandbox = await startSandbox({ records: 3000 })
    env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandbox.url }
  })
  afterAll(() => sandbox.stop())
  const listed = async (id: string) =>
    (JSON.parse((await cli(["connections", "--json"], { env })).stdout) as Array<Record<string, unknown>>).find(
      (c) => c.id === id,
    )
  const connect = async (connector: string, credentials: object, extra: string[] = []) => {
    const run = await cli(["connect", connector, "--sandbox", "--json", ...extra], {
      env,
      stdin: JSON.stringify(credentials),
    })
    return JSON.parse(run.stdout).connection.id as string
  }

  it("update: new credentials that fail leave the stored ones in use; ones that pass replace them", async () => {
    const id = await connect("peopletray", { apiKey: "sandbox-valid" })
    const before = await listed(id)
    const failed = await cli(["connections", "update", id, "--sandbox"], {
      env,
      stdin: '{"apiKey":"sandbox-revoked"}',
    })
    expect(failed.code).toBe(3)
    expect(failed.stdout).toContain("the stored ones are kept, unchanged, and still used")
    expect(await listed(id)).toEqual(before)
    expect((await cli(["connections", "test", id, "--sandbox"], { env })).code).toBe(0)

    const passed = await cli(["connections", "update", id, "--sandbox"], {
      env,
      stdin: '{"apiKey":"sandbox-records-10"}',
    })
    expect(passed.code).toBe(0)
    expect(passed.stdout).toContain("replace the stored ones")
    expect((await listed(id))?.fingerprints).toEqual({ apiKey: "…s-10" })
  })

  it("update with nothing new is a usage error, and an unknown id says so", async () => {
    const id = await connect("peopletray", { apiKey: "sandbox-valid" })
    expect((await cli(["connections", "update", id, "--sandbox"], { env, stdin: "" })).stderr).toMatch(
      /no new credentials given/,
    )
    expect((await cli(["connections", "update", "con_nope", "--sandbox"], { env, stdin: "{}" })).code).toBe(2)
  })

  it("expiry: set at save from the vendor's lifetime when no date is given, and shown as estimated", async () => {
    const id = await connect("peopletray", { apiKey: "sandbox-valid" })
    const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10)
    expect(await listed(id)).toMatchObject({ expiresAt: inAYear, expirySource: "estimated" })
    const table = await cli(["connections"], { env })
    expect(table.stdout).toContain(`${inAYear} (est.)`)
    // A connector whose credentials declare no lifetime gets no expiry.
    const other = await connect("activtrak", { apiKey: "sandbox-valid" })
    expect((await listed(other))?.expiresAt).toBeUndefined()
  })

  it.each([
    [20, /expires in 20 days, on .*Create a new one before then/],
    [5, /expires within a week: in 5 days/],
    [1, /expires tomorrow/],
  ])("expiry %i days ahead: warned in the test result and by connections", async (days, warning) => {
    // `days` calendar days after today (UTC), whatever the hour: an hour added here once made the
    // date a day later in the last hour of every UTC day.
    const date = new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)
    const run = await cli(["connect", "peopletray", "--sandbox", "--expires", date], {
      env,
      stdin: '{"apiKey":"sandbox-valid"}',
    })
    expect(run.stdout).toMatch(warning)
    const table = await cli(["connections"], { env })
    expect(table.stderr).toMatch(warning)
  })

  it("progress: a line per page on a terminal, updated in place with the window; none otherwise, nor with --json", async () => {
    const id = await connect("activtrak", { apiKey: "sandbox-records-3000" })
    const args = ["sync", id, "workingHoursUsers", "--from", "2026-01-01", "--to", "2026-03-10", "--sandbox"]
    const onTerminal = await cli(args, { env, errIsTTY: true })
    expect(onTerminal.code).toBe(0)
    const lines = onTerminal.stderr.split("\r\x1b[2K").filter((line) => line !== "")
    expect(lines.length).toBeGreaterThan(2)
    expect(lines[0]).toMatch(
      /^\d[\d,]* records · \d+ pages? · [\d,]+ records\/s · 2026-01-01\.\.2026-01-31 \(window 1 of 3\) · 0 rate-limit waits/,
    )
    expect(onTerminal.stderr).toContain("(window 3 of 3)")
    const piped = await cli(args, { env })
    expect(piped.stderr).not.toContain("\r")
    // A vendor that throttles (a token bucket of 2 requests a second): the line says how long the sync waits, and why.
    const throttling = await startSandbox({ records: 3000, rateLimit: { perSecond: 2, burst: 1, mode: "retry-after" } })
    try {
      const waited = await cli(["sync", id, "activityLog", "--sandbox"], {
        env: { ...env, KEYWAY_SANDBOX_URL: throttling.url },
        errIsTTY: true,
      })
      expect(waited.code).toBe(0)
      expect(waited.stderr).toMatch(
        /waiting \d+\.\d s for (the vendor's Retry-After|pacing within the vendor's rate limit)/,
      )
    } finally {
      await throttling.stop()
    }
    const json = await cli([...args, "--json"], { env, errIsTTY: true })
    expect(json.stderr).not.toContain("\r")
    expect(JSON.parse(json.stderr)).toMatchObject({ stream: "workingHoursUsers" })
  })
})

describe("npm start after keyway new", () => {
  it("the demo runs a scaffolded connector against its derived fake, beside the hand-written ones", async () => {
    const connectors = mkdtempSync(join(tmpdir(), "keyway-demo-connectors-"))
    cpSync(CONNECTORS_DIR, connectors, { recursive: true })
    const env = { KEYWAY_CONNECTORS: connectors }
    const scaffolded = await cli(
      ["new", "acme", "--name", "Acme", "--base-url", "https://api.acme.example.com", "--test-path", "/v1/me"],
      {
        env,
      },
    )
    expect(scaffolded.code).toBe(0)
    const run = await cli(["demo", "--json"], { env })
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    const results: Array<{ connector: string; scenario: string; result: { verdict: { outcome: string } } }> =
      JSON.parse(run.stdout).results
    const acme = results.filter((row) => row.connector === "Acme")
    expect(acme.map((row) => [row.scenario, row.result.verdict.outcome])).toEqual([
      ["valid key", "connected"],
      ["invalid key", "invalid_credentials"],
    ])
    expect(results.filter((row) => row.connector === "ActivTrak").length).toBeGreaterThan(5)
  }, 60_000)
})
