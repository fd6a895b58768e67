/**
 * The fakes generate data lazily, so serving a big report must not grow the server's memory. The
 * sandbox runs in its own process (`keyway sandbox`), and its peak RSS (VmHWM) is read after paging
 * 10,000 records and again after 100,000. A fake that built whole reports would grow by well over
 * 100 MB for the larger one.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const BIN = new URL("../../bin/keyway.js", import.meta.url).pathname
const hasProc = (() => {
  try {
    return readFileSync("/proc/self/status", "utf8").includes("VmHWM")
  } catch {
    return false
  }
})()

const peakRssMb = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB$/m)
  return Number(line?.[1] ?? Number.NaN) / 1024
}

describe.skipIf(!hasProc)(`sandbox memory while paging${hasProc ? "" : " (skipped: needs /proc/<pid>/status)"}`, () => {
  let child: ChildProcess
  let base = ""

  beforeAll(async () => {
    child = spawn(process.execPath, [BIN, "sandbox", "--json"], { stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    base = await new Promise<string>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        try {
          resolve(JSON.parse(output).baseUrls.activtrak)
        } catch {
          // not all of it yet
        }
      })
      child.once("exit", (code) => reject(new Error(`sandbox exited with ${code}`)))
    })
  }, 30_000)
  afterAll(() => {
    child.kill("SIGTERM")
  })

  const pageThrough = async (records: number): Promise<{ count: number; lastUserId: number }> => {
    let count = 0
    let lastUserId = 0
    for (let page = 1; ; page++) {
      const response = await fetch(
        `${base}/reports/v2/workinghours/users?from=2026-01-01&to=2026-03-31&page=${page}&pageSize=1000`,
        { headers: { "x-api-key": `sandbox-records-${records}` } },
      )
      const body = (await response.json()) as { activity: Array<{ userId: number }>; total: number }
      expect(body.total).toBe(records)
      if (body.activity.length === 0) return { count, lastUserId }
      count += body.activity.length
      lastUserId = body.activity.at(-1)?.userId ?? 0
    }
  }

  it("serves 100,000 records page by page with the same peak memory as 10,000", async () => {
    const small = await pageThrough(10_000)
    expect(small.count).toBe(10_000)
    const pid = child.pid as number
    const afterSmall = peakRssMb(pid)
    const large = await pageThrough(100_000)
    expect(large).toEqual({ count: 100_000, lastUserId: (99_999 % 40) + 1 })
    const afterLarge = peakRssMb(pid)
    expect(afterLarge - afterSmall).toBeLessThan(40)
  }, 60_000)
})
