/** `keyway sync` and `keyway streams` as a user runs them. */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { progressLine, summaryLine } from "../runner/cli/commands/sync.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { cli } from "./support/cli.ts"

/** The partial files a sync to `out` left: `<out>.<random>.partial`. */
const partialsOf = (out: string): string[] =>
  readdirSync(dirname(out))
    .filter((name) => name.startsWith(`${basename(out)}.`) && name.endsWith(".partial"))
    .map((name) => join(dirname(out), name))

describe("keyway sync", () => {
  let sandbox: Sandbox
  let env: Record<string, string>
  let home: string
  beforeAll(async () => {
    sandbox = await startSandbox({ records: 5000 })
    home = mkdtempSync(join(tmpdir(), "keyway-cli-sync-"))
    env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandbox.url }
  })
  afterAll(() => sandbox.stop())

  it("lists streams, and syncs to a file with a summary, renamed into place only when complete", async () => {
    const streams = await cli(["streams", "trackvia"], { env })
    expect(streams.stdout).toMatch(/viewRecords\s+offset\s+viewId\s+-/)

    const connected = await cli(["connect", "trackvia", "--sandbox", "--json"], {
      env,
      stdin: JSON.stringify({ apiKey: "sandbox-valid", authToken: "sandbox-records-2500" }),
    })
    const id = JSON.parse(connected.stdout).connection.id as string
    const out = join(home, "views.ndjson")
    const synced = await cli(["sync", id, "viewRecords", "--param", "viewId=341", "--out", out, "--sandbox"], {
      env,
    })
    expect(synced.code).toBe(0)
    expect(synced.stdout).toMatch(
      /^Synced 2,500 records of viewRecords in 3 pages in [\d.]+ s, 0 rate-limit waits\. Output: .*views\.ndjson\.\n$/,
    )
    expect(synced.stderr).toBe("")
    const lines = readFileSync(out, "utf8").trim().split("\n")
    expect(lines).toHaveLength(2500)
    expect(JSON.parse(lines[0] as string)).toMatchObject({ stream: "viewRecords", record: { id: 1 } })
    expect(partialsOf(out)).toEqual([])
  })

  it("a failed sync says why, how to resume, and leaves only a partial file", async () => {
    const connected = await cli(["connect", "activtrak", "--sandbox", "--json"], {
      env,
      stdin: JSON.stringify({ apiKey: "sandbox-revoked-after-3-cli" }),
    })
    const id = JSON.parse(connected.stdout).connection.id as string
    const out = join(home, "hours.ndjson")
    const failed = await cli(
      ["sync", id, "workingHoursUsers", "--from", "2026-01-01", "--to", "2026-01-10", "--out", out, "--sandbox"],
      {
        env,
      },
    )
    expect(failed.code).toBe(3)
    expect(failed.stderr).toContain("keyway: sync stopped: invalid_credentials: page 3:")
    expect(failed.stderr).toContain(
      `keyway: Then resume with: npx keyway sync ${id} workingHoursUsers --out ${out} --resume`,
    )
    expect(existsSync(out)).toBe(false)
    const [partial] = partialsOf(out)
    expect(
      readFileSync(partial as string, "utf8")
        .trim()
        .split("\n"),
    ).toHaveLength(2000)
    const listed = await cli(["connections"], { env })
    expect(listed.stdout).toMatch(new RegExp(`${id}.*invalid_credentials`))
  })
})

describe("sync's lines", () => {
  it("count one page, one record and one wait in the singular", () => {
    const summary = {
      connectionId: "con_1",
      stream: "workingHoursUsers",
      records: 1,
      pages: 1,
      slices: 1,
      waits: 1,
      waitedMs: 1000,
      durationMs: 200,
      resumed: false,
      resumePoint: undefined,
      out: "stdout",
      skipped: 1,
    }
    expect(summaryLine(summary)).toBe(
      "Synced 1 record of workingHoursUsers in 1 page in 0.2 s, 1 rate-limit wait; 1 record left out, delivered by an earlier sync. Output: stdout.\n",
    )
    expect(summaryLine({ ...summary, records: 1000, pages: 2, waits: 0, skipped: 40 })).toBe(
      "Synced 1,000 records of workingHoursUsers in 2 pages in 0.2 s, 0 rate-limit waits; 40 records left out, delivered by an earlier sync. Output: stdout.\n",
    )
    const progress = {
      records: 1,
      pages: 1,
      waits: 0,
      waitedMs: 0,
      total: undefined,
      slice: 1,
      slices: 1,
      window: undefined,
    }
    expect(progressLine({ ...progress, elapsedMs: 1000 })).toBe("1 record · 1 page · 1 records/s · 0 rate-limit waits")
  })
})
