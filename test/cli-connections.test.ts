/** `keyway connect` and `keyway connections` as a user runs them: outputs and exit codes. */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { cli } from "./support/cli.ts"

describe("keyway connect and connections", () => {
  let sandbox: Sandbox
  let env: Record<string, string>
  beforeAll(async () => {
    sandbox = await startSandbox()
    env = { KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-cli-")), KEYWAY_SANDBOX_URL: sandbox.url }
  })
  afterAll(() => sandbox.stop())

  it("connects with KEYWAY_<FIELD> variables, lists, and removes", async () => {
    const connected = await cli(["connect", "trackvia", "--sandbox", "--json", "--setting", "subdomain=acme"], {
      env: { ...env, KEYWAY_API_KEY: "sandbox-valid", KEYWAY_AUTH_TOKEN: "sandbox-valid" },
    })
    expect(connected.code).toBe(0)
    const { connection, result } = JSON.parse(connected.stdout)
    expect(result).toMatchObject({
      verdict: { outcome: "connected" },
      fingerprints: { apiKey: "…alid", authToken: "…alid" },
    })
    expect(connection).toMatchObject({ connector: "trackvia", settings: { subdomain: "acme" } })

    const listed = await cli(["connections"], { env })
    expect(listed.stdout).toMatch(
      new RegExp(`${connection.id}\\s+trackvia\\s+TrackVia …alid\\s+…alid …alid\\s+connected`),
    )

    const removed = await cli(["connections", "remove", connection.id], { env })
    expect(removed).toMatchObject({ code: 0, stdout: `Removed ${connection.id}.\n` })
    const again = await cli(["connections", "remove", connection.id], { env })
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/no connection "con_[0-9a-f]+" in this workspace/)
  })

  it("exits 3 when the customer must act, 4 when it should try later", async () => {
    const expired = await cli(["connect", "trackvia", "--sandbox"], {
      env,
      stdin: JSON.stringify({ apiKey: "sandbox-valid", authToken: "sandbox-expired" }),
    })
    expect(expired.code).toBe(3)
    expect(expired.stdout).toMatch(/^TrackVia: expired_credentials\n {2}The TrackVia auth token has expired\./)
    expect(expired.stdout).toContain("Not saved")
    const throttled = await cli(["connect", "peopletray", "--sandbox"], {
      env,
      stdin: '{"apiKey":"sandbox-429-always"}',
    })
    expect(throttled.code).toBe(4)
    expect(throttled.stdout).toContain("Try again in 3600 s.")
  })

  it("a store that is down is a clear one-line error with exit 4, never a hang or a stack trace", async () => {
    const down = await cli(["connections"], { env: { ...env, KEYWAY_STORE: "redis://127.0.0.1:1" } })
    expect(down.code).toBe(4)
    expect(down.stderr).toMatch(/^keyway: the Redis credential store is unavailable: .+\n$/)
  })

  it("reports every bad field at once and exits 2", async () => {
    const bad = await cli(
      ["connect", "activityinfo", "--sandbox", "--setting", "serverUrl=http://x", "--setting", "colour=red"],
      {
        env,
        stdin: '{"apiToken":"has space inside"}',
      },
    )
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split("\n")).toEqual([
      "keyway: credentials.apiToken contains spaces; copy the value without them",
      "keyway: settings.colour is not a setting of ActivityInfo (settings: serverUrl)",
      "keyway: settings.serverUrl must be an https:// URL with no query string",
      "keyway: settings.serverUrl does not have the expected format (^https://[^\\s/]+(/[^\\s]*)?$)",
      'keyway: settings.serverUrl "http://x" is not https; credentials are only sent over https',
    ])
  })
})
