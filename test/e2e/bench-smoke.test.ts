/**
 * A quick run of each benchmark at a tiny size, so the harness cannot rot: each must write its
 * results with every ratio and time present and finite. The figures themselves are not worth reading
 * at this size; the real ones come from `npm run bench` (bench/README.md).
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { findRedisServer } from "../support/redis.ts"

const RUN = new URL("../../bench/run.ts", import.meta.url).pathname

describe("benchmark harness smoke run", () => {
  it("runs every benchmark at a tiny size and writes its results", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyway-bench-smoke-"))
    const bench = (names: ReadonlyArray<string>) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", RUN, ...names], {
        env: {
          ...process.env,
          BENCH_RESULTS_DIR: dir,
          N: "40",
          ROUNDS: "1",
          RUNS: "1",
          RECORDS: "2000",
          PAGES: "30",
          BASELINE_SECONDS: "1",
        },
        timeout: 240_000,
        maxBuffer: 16 * 1024 * 1024,
      })
    // Two groups at once: at this size the figures are not read, so they may share the machine.
    const quick = [
      "save-and-test-sequential",
      "save-and-test-concurrent",
      "sync-throughput",
      "cli-startup",
      "sandbox-paging",
      "serve-save-and-test",
    ]
    // The fleet's needs redis-server, which CI installs; without it, it is named as not run.
    const fleet = findRedisServer() ? ["fleet"] : []
    if (fleet.length === 0) console.warn("bench smoke: fleet not run (no redis-server; CI installs it)")
    const [{ stdout }] = await Promise.all([
      bench(quick),
      bench(["rate-limit-efficiency"]),
      ...(fleet.length > 0 ? [bench(fleet)] : []),
    ])
    for (const name of [...quick, "rate-limit-efficiency", ...fleet]) {
      const result = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8"))
      expect(result.name).toBe(name)
      expect(result.machine.node).toBe(process.version)
      const positive = expect.toSatisfy((n: unknown) => typeof n === "number" && Number.isFinite(n) && n > 0)
      if (name === "fleet") {
        expect(result.perRound.map((r: { workers: number }) => r.workers)).toEqual([4, 2, 1])
        for (const row of result.perRound)
          expect(row).toMatchObject({ requests: positive, requestsPerSecond: positive })
        expect(result.oneWorkerPerSecond).toEqual(positive)
      } else if (name === "rate-limit-efficiency") {
        expect(result.results.length).toBeGreaterThanOrEqual(9)
        for (const row of result.results) {
          expect(row).toMatchObject({ pages: positive, seconds: positive })
          expect(row.requests).toBeGreaterThanOrEqual(row.pages)
        }
      } else {
        expect(Object.keys(result.timeRatioToBaselines).length, name).toBeGreaterThan(0)
        for (const ratio of Object.values(result.timeRatioToBaselines)) expect(ratio, name).toEqual(positive)
        for (const stats of result.stats) expect(stats).toMatchObject({ medianMs: positive, unitsPerSecond: positive })
      }
    }
    expect(stdout).toContain("keyway save & test takes")
  }, 300_000)
})
