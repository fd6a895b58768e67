/**
 * Every command through the real binary, as a user runs it: the wiring from `bin/keyway.js` to each
 * command, and each documented exit code. The behaviour behind each command is tested in-process in
 * the unit tier; this proves the process around it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../../runner/sandbox/server.ts"
import { BIN, keyway } from "../support/cli.ts"
import { LOAD_LOG_PRELOAD, packagesLoaded } from "../support/packages-loaded.ts"

describe("the keyway binary", () => {
  let sandbox: Sandbox
  let env: Record<string, string>
  const home = mkdtempSync(join(tmpdir(), "keyway-e2e-"))
  beforeAll(async () => {
    sandbox = await startSandbox()
    env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandbox.url }
  })
  afterAll(() => sandbox.stop())

  it("prints usage for --help and help, and exits 2 with usage when given nothing", async () => {
    for (const args of [["--help"], ["help"]]) {
      const shown = await keyway(args)
      expect(shown.code).toBe(0)
      expect(shown.stdout).toMatch(/^Keyway: declarative connectors/)
      expect(shown.stdout).toContain("keyway connect <connector>")
    }
    expect((await keyway([])).code).toBe(2)
    expect(await keyway(["frobnicate"])).toMatchObject({
      code: 2,
      stderr: 'keyway: unknown command "frobnicate". See npx keyway --help.\n',
    })
  })

  it("validate, connectors, streams, schema --check and docs --check read the shipped definitions", async () => {
    expect(await keyway(["validate"])).toMatchObject({
      code: 0,
      stdout: "4 of 4 definitions valid; 0 errors, 0 warnings\n",
    })
    const bad = join(home, "bad.yaml")
    writeFileSync(bad, "id: bad\nname: [\n")
    expect((await keyway(["validate", bad])).code).toBe(2)
    expect((await keyway(["connectors"])).stdout).toMatch(/^ID\s+NAME/)
    expect(await keyway(["connectors", "show", "nope"])).toMatchObject({ code: 2 })
    expect((await keyway(["streams", "activtrak"])).stdout).toContain("workingHoursUsers")
    expect((await keyway(["schema", "--check"])).code).toBe(0)
    expect(await keyway(["docs", "--check"])).toMatchObject({ code: 0, stderr: "" })
  })

  it("connectors lists the shipped definitions without loading the YAML loader, and loads any other file", async () => {
    const listed = async (dir?: string) => {
      const log = join(home, `loaded-${Math.random().toString(36).slice(2)}.txt`)
      writeFileSync(log, "")
      const run = await keyway(["connectors", "--json"], {
        env: {
          NODE_OPTIONS: `--import ${LOAD_LOG_PRELOAD}`,
          LOAD_LOG: log,
          ...(dir ? { KEYWAY_CONNECTORS: dir } : {}),
        },
      })
      expect(run.code).toBe(0)
      const ids = (JSON.parse(run.stdout) as ReadonlyArray<{ id: string }>).map((c) => c.id)
      return { ids, packages: packagesLoaded(log) }
    }
    // The build's results answer for the shipped files: yaml (and the Schema and lint rules beside it) stay unloaded.
    const shipped = await listed()
    expect(shipped.ids).toEqual(["activityinfo", "activtrak", "peopletray", "trackvia"])
    expect(shipped.packages.has("effect")).toBe(true)
    expect(shipped.packages.has("yaml")).toBe(false)
    // An edited file is not one of them, and is parsed as always.
    const dir = mkdtempSync(join(tmpdir(), "keyway-edited-"))
    const text = readFileSync(new URL("../../connectors/trackvia.yaml", import.meta.url), "utf8")
    writeFileSync(join(dir, "trackvia.yaml"), `${text}\n# edited\n`)
    const edited = await listed(dir)
    expect(edited.ids).toEqual(["trackvia"])
    expect(edited.packages.has("yaml")).toBe(true)
  })

  it("new scaffolds a definition, and refuses to overwrite it", async () => {
    const args = ["new", "zeta", "--name", "Zeta", "--base-url", "https://api.zeta.example", "--auth", "bearer"]
    const made = await keyway([...args, "--test-path", "/v1/me", "--dir", home])
    expect(made.code).toBe(0)
    expect(existsSync(join(home, "zeta.yaml"))).toBe(true)
    expect((await keyway([...args, "--test-path", "/v1/me", "--dir", home])).code).toBe(2)
  })

  it("connect, connections, sync and rotate-key: every exit code a customer can meet", async () => {
    const connected = await keyway(["connect", "activtrak", "--sandbox", "--json"], {
      env,
      stdin: '{"apiKey":"sandbox-records-1500"}',
    })
    expect(connected.code).toBe(0)
    const id = JSON.parse(connected.stdout).connection.id as string
    // 3: the customer must act; 4: try later; 2: bad input.
    expect(
      (await keyway(["connect", "activtrak", "--sandbox"], { env, stdin: '{"apiKey":"sandbox-invalid"}' })).code,
    ).toBe(3)
    expect(
      (await keyway(["connect", "peopletray", "--sandbox"], { env, stdin: '{"apiKey":"sandbox-429-always"}' })).code,
    ).toBe(4)
    expect((await keyway(["connect", "peopletray", "--sandbox"], { env, stdin: '{"apiKey":"x y"}' })).code).toBe(2)

    expect((await keyway(["connections"], { env })).stdout).toContain(id)
    expect((await keyway(["connections", "test", id, "--sandbox"], { env })).code).toBe(0)
    const out = join(home, "hours.ndjson")
    const synced = await keyway(
      ["sync", id, "workingHoursUsers", "--from", "2026-01-01", "--to", "2026-01-05", "--out", out, "--sandbox"],
      { env },
    )
    expect(synced.code).toBe(0)
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(1500)
    expect((await keyway(["rotate-key"], { env })).stdout).toMatch(
      /^Master key is now [0-9a-f]{12}; re-sealed 1 record/,
    )
    expect((await keyway(["connections", "test", "--all", "--sandbox"], { env })).code).toBe(0)
    expect((await keyway(["connections", "remove", id], { env })).code).toBe(0)
    expect((await keyway(["connections", "remove", id], { env })).code).toBe(2)
  })

  it("a store that is down exits 4 with one line, and never a stack trace", async () => {
    const down = await keyway(["connections"], { env: { ...env, KEYWAY_STORE: "redis://127.0.0.1:1" } })
    expect(down.code).toBe(4)
    expect(down.stderr).toMatch(/^keyway: the Redis credential store is unavailable: .+\n$/)
  })

  it("sandbox serves until it is told to stop, then exits 0", async () => {
    const child: ChildProcess = spawn(process.execPath, [BIN, "sandbox"], { stdio: ["ignore", "pipe", "pipe"] })
    const url = await new Promise<string>((resolve, reject) => {
      let text = ""
      child.stdout?.on("data", (chunk: Buffer) => {
        text += chunk.toString()
        const found = /Keyway sandbox on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)
        if (found?.[1]) resolve(found[1])
      })
      child.once("exit", () => reject(new Error(`the sandbox exited early: ${text}`)))
    })
    const answer = await fetch(`${url}/activtrak/reports/v2/workinghours/users?from=2026-01-01&to=2026-01-01`, {
      headers: { "x-api-key": "sandbox-valid" },
    })
    expect(answer.status).toBe(200)
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    expect(await exited).toBe(0)
  })
})
