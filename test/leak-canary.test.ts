/**
 * The leak canary: the whole CLI flow runs with distinctive canary secrets, and none of them may
 * appear in stdout, stderr, thrown errors, or any byte Keyway writes to disk. Only the last four
 * characters (the fingerprint) may.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createKeyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { minimalWith } from "./minimal-definition.ts"
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

/**
 * A vendor that echoes a rejected key back in every form vendors use: its case changed, a character
 * short, inside the base64 of a Basic pair, in hex, split by an invisible character. The whole CLI
 * flow (connect, save on failure, list, re-test, a sync that fails) runs against it, and no form of
 * the key may show in any output or in any byte at rest.
 */
describe("leak canary: every echo form, in output and at rest", () => {
  const KEY = "EchoCanary7Qm2Zx9Wv3kLp8"
  const ECHOES = [
    KEY.toUpperCase(),
    KEY.toLowerCase(),
    KEY.slice(0, -1),
    Buffer.from(`api:${KEY}`).toString("base64"),
    Buffer.from(KEY).toString("hex"),
    `${KEY.slice(0, 11)}\u200b${KEY.slice(11)}`,
    `${KEY.slice(0, 11)}\u0000${KEY.slice(11)}`,
  ]
  /** Any sign of the key: a long run of it in any case, or a run of its hex or base64. */
  const traces = (text: string): string[] => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the NUL a vendor split the key with.
    const folded = text.toLowerCase().replace(/[\u0000\u200b]/g, "")
    const found: string[] = []
    for (let at = 0; at + 10 <= KEY.length; at++) {
      if (folded.includes(KEY.slice(at, at + 10).toLowerCase())) found.push(`run ${KEY.slice(at, at + 10)}`)
    }
    const hex = Buffer.from(KEY).toString("hex")
    for (let at = 0; at + 20 <= hex.length; at += 2) if (folded.includes(hex.slice(at, at + 20))) found.push("hex")
    for (const shift of [0, 1, 2]) {
      const core = Buffer.from(`${"\u0000".repeat(shift)}${KEY}`)
        .toString("base64")
        .slice(4, -4)
      for (let at = 0; at + 12 <= core.length; at++) if (text.includes(core.slice(at, at + 12))) found.push("base64")
    }
    return [...new Set(found)]
  }

  let server: Server
  let home: string
  const runs: CliRun[] = []
  beforeAll(async () => {
    server = createServer((request, response) => {
      const key = String(request.headers["x-api-key"] ?? "")
      response.writeHead(401, { "content-type": "application/json" })
      response.end(JSON.stringify({ message: key === KEY ? `Rejected key. Seen as: ${ECHOES.join(" | ")}` : "no key" }))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const connectors = mkdtempSync(join(tmpdir(), "keyway-echo-connectors-"))
    writeFileSync(
      join(connectors, "acme.yaml"),
      `${minimalWith("errors:\n  rules:", "errors:\n  messagePaths: [message]\n  rules:")}reports:
  - id: things
    description: Things.
    path: /v1/things
    records: things
    primaryKey: [id]
    paging: { kind: none }
`,
    )
    home = mkdtempSync(join(tmpdir(), "keyway-echo-home-"))
    const env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: url, KEYWAY_CONNECTORS: connectors }
    const run = async (args: string[], stdin?: string) => {
      const done = await cli(args, { env, ...(stdin ? { stdin } : {}) })
      runs.push(done)
      return done
    }
    const saved = await run(
      ["connect", "acme", "--sandbox", "--save-on-failure", "--json"],
      JSON.stringify({ apiKey: KEY }),
    )
    const id = JSON.parse(saved.stdout).connection.id as string
    await run(["connect", "acme", "--sandbox"], JSON.stringify({ apiKey: KEY }))
    await run(["connections"])
    await run(["connections", "--json"])
    await run(["connections", "test", id, "--sandbox", "--json"])
    await run(["sync", id, "things", "--sandbox", "--out", join(home, "things.ndjson")])
    await run(["connections", "--json"])
  })
  afterAll(() => server.close())

  it("ran the flow: the vendor refused the key each time, and said so in every form", () => {
    expect(runs.map((r) => r.code)).toEqual([3, 3, 0, 0, 3, 3, 0])
    expect(runs[0]?.stdout).toContain("[redacted …kLp8]")
  })

  it("no form of the key in any output", () => {
    for (const run of runs) expect(traces(run.stdout + run.stderr)).toEqual([])
  })

  it("no form of the key in any file at rest: the store, its checkpoints, the output", () => {
    const files = allFiles(home)
    expect(files.some((f) => f.endsWith("keyway.sqlite"))).toBe(true)
    for (const file of files) expect(traces(readFileSync(file, "latin1")), file).toEqual([])
  })
})
