/**
 * The leak canary: the whole CLI flow runs with distinctive canary secrets, and none of them may
 * appear in stdout, stderr, thrown errors, or any byte Keyway writes to disk. Only the last four
 * characters (the fingerprint) may.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createKeyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { type CliRun, cli } from "./support/cli.ts"

// Valid in the sandbox (a records scenario), yet unmistakable.
const VALID_CANARY = "sandbox-records-73195"
// Invalid everywhere; TrackVia's fake echoes a rejected token in its error body, as the real API does.
const INVALID_CANARY = "CANARY-q7Zx9-Wv3k-leak-check"
const CANARIES = [VALID_CANARY, INVALID_CANARY, "q7Zx9-Wv3k", "73195"]

const allFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? allFiles(path) : [path]
  })

describe("leak canary", () => {
  let sandbox: Sandbox
  let home: string
  const runs: CliRun[] = []
  let env: Record<string, string>

  beforeAll(async () => {
    sandbox = await startSandbox()
    home = mkdtempSync(join(tmpdir(), "keyway-canary-"))
    env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandbox.url }
    const run = async (args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) => {
      const done = await cli(args, {
        env: { ...env, ...options.env },
        ...(options.stdin ? { stdin: options.stdin } : {}),
      })
      runs.push(done)
      return done
    }
    await run(["connect", "activtrak", "--sandbox", "--label", "canary"], {
      stdin: JSON.stringify({ apiKey: VALID_CANARY }),
    })
    await run(["connect", "activtrak", "--sandbox", "--json"], { env: { KEYWAY_API_KEY: VALID_CANARY } })
    await run(["connect", "trackvia", "--sandbox"], {
      stdin: JSON.stringify({ apiKey: "sandbox-valid", authToken: INVALID_CANARY }),
    })
    await run(["connect", "trackvia", "--sandbox", "--json", "--save-on-failure"], {
      env: { KEYWAY_API_KEY: "sandbox-valid", KEYWAY_AUTH_TOKEN: INVALID_CANARY },
    })
    await run(["connect", "peopletray", "--sandbox"], {
      stdin: JSON.stringify({ apiKey: `${INVALID_CANARY}\r\nX-Injected: 1` }),
    })
    await run(["connect", "peopletray", "--sandbox", "--json"], { stdin: JSON.stringify({ apiKey: "short" }) })
    await run(["connect", "activtrak", `--api-key=${INVALID_CANARY}`])
    await run(["connections"])
    await run(["connections", "--json"])
    await run(["connections", "test", "--all", "--sandbox"])
    await run(["connections", "test", "--all", "--sandbox", "--json"])
    await run(["rotate-key"])
    await run(["connections", "test", "--all", "--sandbox", "--json"])
  }, 120_000)
  afterAll(() => sandbox.stop())

  it("ran the flow it claims to: connections saved, tested and re-sealed", () => {
    expect(runs.map((r) => r.code)).toEqual([0, 0, 3, 3, 2, 2, 2, 0, 0, 3, 3, 0, 3])
    expect(JSON.parse(runs[8]?.stdout ?? "[]")).toHaveLength(3)
    expect(runs[0]?.stdout).toContain("apiKey …3195")
  })

  it("no canary in any stdout or stderr", () => {
    for (const run of runs) {
      for (const canary of CANARIES) {
        expect(run.stdout).not.toContain(canary)
        expect(run.stderr).not.toContain(canary)
      }
    }
  })

  it("no canary in any file under KEYWAY_HOME, the SQLite file included", () => {
    const files = allFiles(home)
    expect(files.some((f) => f.endsWith("keyway.sqlite"))).toBe(true)
    for (const file of files) {
      const bytes = readFileSync(file)
      for (const canary of CANARIES) expect(bytes.includes(canary), `${file} holds ${canary}`).toBe(false)
    }
  })

  it("no canary in errors thrown by the library API", async () => {
    const direct = createKeyway({ sandboxUrl: sandbox.url })
    try {
      const thrown = await direct
        .test({ connectorId: "peopletray", credentials: { apiKey: `${INVALID_CANARY}\n` } })
        .catch((error: unknown) => error)
      const everything = `${String(thrown)} ${(thrown as Error).stack} ${JSON.stringify(thrown)}`
      for (const canary of CANARIES) expect(everything).not.toContain(canary)
      const result = await direct.test({
        connectorId: "trackvia",
        credentials: { apiKey: "sandbox-valid", authToken: INVALID_CANARY },
      })
      expect(result.verdict.vendorMessage).toBe("Invalid access token: [redacted …heck]")
      for (const canary of CANARIES) expect(JSON.stringify(result)).not.toContain(canary)
    } finally {
      await direct.close()
    }
  })
})
