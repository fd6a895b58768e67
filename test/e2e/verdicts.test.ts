/**
 * Trust, part 2, across real processes: a home under /proc is refused instead of hanging, and
 * incremental syncs over moving windows, one of them killed with SIGKILL and resumed, deliver each
 * record exactly once.
 */
import { execFile, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Sandbox } from "../../runner/sandbox/server.ts"
import { BIN, connectedSandbox, keyway } from "../support/cli.ts"

describe("a home Keyway cannot use", () => {
  it("KEYWAY_HOME under /proc is refused at once, exit 2, instead of hanging", async () => {
    const started = performance.now()
    const run = await keyway(["connections"], { env: { KEYWAY_HOME: "/proc/keyway" } })
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/KEYWAY_HOME .*\/proc/)
  })
})

describe("standard output that takes no more", () => {
  const shell = (script: string) =>
    new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile("sh", ["-c", script], { timeout: 30_000 }, (error, _stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? -1) : 0, stderr }),
      ),
    )

  it("a full disk is one line and exit 2, not a stack trace", async () => {
    const run = await shell(`"${process.execPath}" "${BIN}" connectors > /dev/full`)
    expect(run.stderr).toMatch(/^keyway: cannot write standard output: no space left on the device \(ENOSPC\)\n$/)
    expect(run.code).toBe(2)
  })

  it("a reader that goes away (| head) ends a large sync quietly", async () => {
    const home = mkdtempSync(join(tmpdir(), "keyway-epipe-"))
    const env = `KEYWAY_HOME="${home}"`
    const connected = await keyway(["connect", "activtrak", "--sandbox", "--json"], {
      env: { KEYWAY_HOME: home },
      stdin: '{"apiKey":"sandbox-records-30000"}',
    })
    const id = JSON.parse(connected.stdout).connection.id
    const run = await shell(
      `${env} "${process.execPath}" "${BIN}" sync ${id} activityLog --from 2026-03-01 --to 2026-03-02 --sandbox | head -c 100 | wc -c`,
    )
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
  })
})

describe("incremental sync delivers each record exactly once, across moving windows", () => {
  let sandbox: Sandbox
  let home: string
  let env: Record<string, string>
  let id: string
  beforeAll(async () => {
    // Slow pages (10 a second), so a sync can be killed in the middle.
    ;({ sandbox, home, env, id } = await connectedSandbox(
      "keyway-once-",
      { rateLimit: { perSecond: 10, burst: 1, mode: "retry-after" } },
      "sandbox-records-30000",
    ))
  })
  afterAll(() => sandbox.stop())

  const sync = (from: string, to: string, out: string, extra: string[] = []) =>
    spawn(
      process.execPath,
      [BIN, "sync", id, "activityLog", "--from", from, "--to", to, "--out", join(home, out), "--sandbox", ...extra],
      { env: { ...process.env, ...env }, stdio: "ignore" },
    )
  const ended = (child: ReturnType<typeof spawn>) =>
    new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? String(code))))

  const partials = () => readdirSync(home).filter((name) => name.endsWith(".partial"))
  /** Starts a sync and kills it with SIGKILL once its partial output holds `bytes`: mid-way, by construction. */
  const killedAt = async (bytes: number, from: string, to: string, out: string) => {
    const child = sync(from, to, out)
    const exited = ended(child)
    let running = true
    void exited.then(() => {
      running = false
    })
    const written = () => {
      const partial = partials().find((name) => name.startsWith(out))
      return partial ? statSync(join(home, partial)).size : 0
    }
    while (running && written() < bytes) await new Promise((resolve) => setTimeout(resolve, 10))
    child.kill("SIGKILL")
    expect(await exited).toBe("SIGKILL")
    expect(written()).toBeGreaterThanOrEqual(bytes)
  }

  it("three syncs over moving windows, two killed with SIGKILL at different points and resumed: every logId once", async () => {
    expect(await ended(sync("2026-03-01", "2026-03-02", "one.ndjson"))).toBe("0")
    // The window moves on a day; killed after its first page, then resumed.
    await killedAt(1, "2026-03-02", "2026-03-03", "two.ndjson")
    expect(await ended(sync("2026-03-02", "2026-03-03", "two.ndjson", ["--resume"]))).toBe("0")
    // Killed later this time, some pages in.
    await killedAt(1_500_000, "2026-03-03", "2026-03-04", "three.ndjson")
    expect(await ended(sync("2026-03-03", "2026-03-04", "three.ndjson", ["--resume"]))).toBe("0")

    const ids = ["one", "two", "three"].flatMap((name) =>
      readFileSync(join(home, `${name}.ndjson`), "utf8")
        .trim()
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line).record.logId as number),
    )
    expect(ids.length).toBeGreaterThan(10_000)
    expect(new Set(ids).size).toBe(ids.length)
    // The windows overlap: without de-duplication the second and third would repeat the first's records.
    expect(partials()).toEqual([])
  }, 120_000)
})
