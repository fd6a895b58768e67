/**
 * A sync's memory must not grow with the report's size. `keyway sync` runs in a child process, once
 * for 10,000 records and once for 200,000 (1,000 per page), with V8's old space capped at 64 MB, and
 * its peak RSS (VmHWM) is sampled while it runs. Holding 200,000 such records does not fit in 64 MB
 * (checked when this test was written: a plain array of them dies with "heap out of memory"), so a
 * design that collected the report fails here; a streaming one finishes with the same peak.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createKeyway } from "../../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../../runner/sandbox/server.ts"
import { BIN } from "../support/cli.ts"

const hasProc = (() => {
  try {
    return readFileSync("/proc/self/status", "utf8").includes("VmHWM")
  } catch {
    return false
  }
})()

/** Runs the CLI to completion, sampling its peak RSS in MB. */
const peakRssOf = (args: string[], env: Record<string, string>) =>
  new Promise<{ code: number; peakMb: number; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--max-old-space-size=64", BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    })
    let peakMb = 0
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const sample = setInterval(() => {
      try {
        const kb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1])
        if (kb) peakMb = Math.max(peakMb, kb / 1024)
      } catch {
        // the process has just exited
      }
    }, 10)
    child.once("close", (code) => {
      clearInterval(sample)
      resolve({ code: code ?? -1, peakMb, stderr })
    })
  })

describe.skipIf(!hasProc)(`sync memory${hasProc ? "" : " (skipped: needs /proc/<pid>/status)"}`, () => {
  let sandbox: Sandbox
  const home = mkdtempSync(join(tmpdir(), "keyway-sync-memory-"))
  const ids: Record<number, string> = {}
  beforeAll(async () => {
    sandbox = await startSandbox()
    const keyway = createKeyway({
      sandboxUrl: sandbox.url,
      store: { home, url: undefined, workspace: "default" },
      env: {},
    })
    try {
      for (const size of [10_000, 200_000]) {
        const { connection } = await keyway.connect({
          connectorId: "activtrak",
          credentials: { apiKey: `sandbox-records-${size}` },
        })
        ids[size] = connection?.id as string
      }
    } finally {
      await keyway.close()
    }
  })
  afterAll(() => sandbox.stop())

  it("peaks at the same memory for 200,000 records as for 10,000", async () => {
    const env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandbox.url }
    const sync = (size: number) =>
      peakRssOf(
        [
          "sync",
          ids[size] as string,
          "workingHoursUsers",
          "--sandbox",
          "--from",
          "2026-01-01",
          "--to",
          "2026-01-31",
          "--out",
          join(home, `out-${size}.ndjson`),
        ],
        env,
      )
    const small = await sync(10_000)
    const large = await sync(200_000)
    expect(small.code, small.stderr).toBe(0)
    expect(large.code, large.stderr).toBe(0)
    expect(large.stderr).toBe("")
    const lines = readFileSync(join(home, "out-200000.ndjson"), "utf8").split("\n").length - 1
    expect(lines).toBe(200_000)
    expect(large.peakMb - small.peakMb).toBeLessThan(25)
  }, 120_000)
})
