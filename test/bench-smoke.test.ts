/**
 * A quick run of each benchmark at a tiny size, so the harness cannot rot. It measures nothing worth
 * reading: the real figures come from `npm run bench` (bench/README.md).
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const RUN = new URL("../bench/run.ts", import.meta.url).pathname

describe("benchmark harness smoke run", () => {
  it("runs every benchmark at a tiny size and writes its results", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyway-bench-smoke-"))
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", RUN], {
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
    for (const name of [
      "save-and-test-sequential",
      "save-and-test-concurrent",
      "sync-throughput",
      "rate-limit-efficiency",
      "cli-startup",
      "sandbox-paging",
    ]) {
      const result = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8"))
      expect(result.name).toBe(name)
      expect(result.machine.node).toBe(process.version)
    }
    expect(stdout).toContain("keyway save & test takes")
  }, 300_000)
})
