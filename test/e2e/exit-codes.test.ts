/**
 * The README's exit-code table, as written: every example runs in a shell from the repository root,
 * as a newcomer would paste it, and exits with its row's code. `npx keyway` is this checkout's binary.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { program } from "../../runner/cli/main.ts"
import { BIN } from "../support/cli.ts"

const ROOT = new URL("../..", import.meta.url).pathname
const README = readFileSync(join(ROOT, "README.md"), "utf8")

/** The rows of the "Exit codes" table: code, and the example's command when the cell holds one. */
const rows = (() => {
  const section = README.slice(README.indexOf("### Exit codes"))
  const table = section.slice(0, section.indexOf("\n\n", section.indexOf("| code |")))
  return table
    .split("\n")
    .filter((line) => /^\| \d+ \|/.test(line))
    .map((line) => {
      const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim())
      const example = /^`(.*)`$/.exec(cells[3] ?? "")?.[1]?.replaceAll("\\|", "|")
      return { code: Number(cells[1]), example }
    })
})()

const shell = (command: string) =>
  new Promise<{ code: number; stderr: string }>((resolve) => {
    // Each example from nothing: a fresh home, and no sandbox but the one `--sandbox` starts.
    const { KEYWAY_SANDBOX_URL: _running, ...inherited } = process.env
    const env = { ...inherited, KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-exit-")) }
    // `npx keyway` is this checkout's binary: a shell function named for it, ahead of the example.
    const script = `keyway() { "${process.execPath}" "${BIN}" "$@"; }\n${command.replaceAll("npx keyway", "keyway")}`
    execFile("sh", ["-c", script], { cwd: ROOT, env, timeout: 60_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? -1) : 0, stderr }),
    )
  })

describe("the README's exit codes", () => {
  it("lists every code from 0 to 6", () => {
    expect(rows.map((row) => row.code)).toEqual([0, 1, 2, 3, 4, 5, 6])
  })

  for (const { code, example } of rows.filter((row) => row.example)) {
    it(`exit ${code}: ${example}`, async () => {
      const run = await shell(example as string)
      expect(run.stderr).not.toMatch(/bug in Keyway/)
      expect(run.code).toBe(code)
    }, 60_000)
  }

  it("exit 1: a defect (an output that throws) is reported as a bug, without the error's own text", async () => {
    let stderr = ""
    const code = await Effect.runPromise(
      program(["connectors"], {
        out: () => {
          throw new Error("output exploded with secret-ish text")
        },
        err: (text) => {
          stderr += text
        },
        env: process.env,
        stdin: { isTTY: false, read: async () => "" },
        stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
        errIsTTY: false,
      }),
    )
    expect(code).toBe(1)
    expect(stderr).toMatch(/this is a bug in Keyway/)
    expect(stderr).not.toMatch(/secret-ish/)
  })
})
