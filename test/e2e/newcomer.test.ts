/**
 * The newcomer's first five minutes, through the real binary on a real terminal (`script`): the
 * sandbox's JSON names the credentials of a derived fake, a sync's progress line updates in place on
 * a terminal and is absent in a pipe, and the end of input at a prompt is an answer, not a hang.
 */
import { execFile, spawn } from "node:child_process"
import { copyFileSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Sandbox } from "../../runner/sandbox/server.ts"
import { BIN, connectedSandbox, keyway } from "../support/cli.ts"

const ROOT = new URL("../..", import.meta.url).pathname

/** Ctrl-D: the end of input, as a terminal sends it. */
const END = "\x04"

/** A command on a terminal of its own, each prompt answered as it shows; its exit code and output. */
const onTerminal = (
  command: string,
  env: Record<string, string>,
  answers: ReadonlyArray<readonly [RegExp, string]> = [],
) =>
  new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: { ...process.env, ...env } })
    let output = ""
    let answered = 0
    let since = 0
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const next = answers[answered]
      if (next?.[0].test(output.slice(since))) {
        answered++
        since = output.length
        child.stdin.write(next[1])
      }
    })
    child.once("close", (code) => resolve({ code: code ?? -1, output }))
  })

describe("keyway sandbox --json", () => {
  it("includes each derived fake's test credentials, and they connect", async () => {
    const connectors = mkdtempSync(join(tmpdir(), "keyway-derived-"))
    for (const file of readdirSync(join(ROOT, "connectors")).filter((name) => name.endsWith(".yaml"))) {
      copyFileSync(join(ROOT, "connectors", file), join(connectors, file))
    }
    copyFileSync(join(ROOT, "test/fixtures/orbit-metrics.yaml"), join(connectors, "orbit-metrics.yaml"))
    const env = { KEYWAY_CONNECTORS: connectors, KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-derived-home-")) }
    const server = spawn(process.execPath, [BIN, "sandbox", "--json"], { env: { ...process.env, ...env } })
    let text = ""
    const printed = await new Promise<{
      url: string
      derivedFakes: Array<{ connector: string; credentials: Record<string, string> }>
    }>((resolve) =>
      server.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString()
        try {
          resolve(JSON.parse(text))
        } catch {
          // not all of it yet
        }
      }),
    )
    try {
      const orbit = printed.derivedFakes.find((fake) => fake.connector === "orbit-metrics")
      expect(orbit?.credentials).toBeDefined()
      expect(printed.derivedFakes.map((fake) => fake.connector)).not.toContain("activtrak")
      const connected = await keyway(["connect", "orbit-metrics", "--sandbox"], {
        env: { ...env, KEYWAY_SANDBOX_URL: printed.url },
        stdin: JSON.stringify(orbit?.credentials),
      })
      expect(connected.stdout).toMatch(/: connected/)
      expect(connected.code).toBe(0)
    } finally {
      server.kill("SIGINT")
    }
  })
})

describe("on a terminal", () => {
  let sandbox: Sandbox
  let env: Record<string, string>
  let id: string
  beforeAll(async () => {
    ;({ sandbox, env, id } = await connectedSandbox("keyway-terminal-", { records: 3000 }, "sandbox-records-3000"))
  })
  afterAll(() => sandbox.stop())

  it("a sync shows a progress line that updates in place, with the date window; a pipe gets none", async () => {
    const sync = (from: string, to: string) =>
      `"${process.execPath}" "${BIN}" sync ${id} workingHoursUsers --from ${from} --to ${to} --sandbox --out /dev/null`
    const shown = await onTerminal(sync("2026-01-01", "2026-03-10"), env)
    expect(shown.code).toBe(0)
    const updates = shown.output.split("\r\x1b[2K").filter((part) => /records · /.test(part))
    expect(updates.length).toBeGreaterThan(2)
    expect(shown.output).toMatch(/2026-01-01\.\.2026-01-31 \(window 1 of 3\)/)
    expect(shown.output).toMatch(/2026-03-04\.\.2026-03-10 \(window 3 of 3\)/)

    const piped = await new Promise<string>((resolve) =>
      execFile(
        "sh",
        ["-c", `${sync("2025-01-01", "2025-03-10")} 2>&1 | cat`],
        { env: { ...process.env, ...env } },
        (_e, out) => resolve(out),
      ),
    )
    expect(piped).toMatch(/^Synced /)
    expect(piped).not.toContain("\r")
  })

  it("the end of input at a required prompt is a usage error, at an optional one a skip", async () => {
    const connect = `"${process.execPath}" "${BIN}" connect activtrak --sandbox`
    const ended = await onTerminal(connect, env, [[/API key:/, END]])
    expect(ended.output).toMatch(/standard input ended before an answer to "API key:"/)
    expect(ended.code).toBe(2)
    // The key typed, then the input ends at the optional SCIM token: connected without one.
    const skipped = await onTerminal(connect, env, [
      [/API key:/, "sandbox-valid\r"],
      [/SCIM token/, END],
    ])
    expect(skipped.output).toMatch(/ActivTrak: connected/)
    expect(skipped.code).toBe(0)
  })
})
