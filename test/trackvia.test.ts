/**
 * TrackVia findings: a missing view's 401 accessDenied is told apart from a rejected key, the
 * user_key placement says why it follows vendors.md, and the setup steps name where keys are made.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ConnectorDefinition } from "../core/definition.ts"
import { createKeyway, type Keyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { cli } from "./support/cli.ts"
import { discardSink } from "./support/sinks.ts"

let sandbox: Sandbox
let keyway: Keyway
let home: string
beforeAll(async () => {
  sandbox = await startSandbox({ records: 20 })
  home = mkdtempSync(join(tmpdir(), "keyway-trackvia-"))
  keyway = createKeyway({ sandboxUrl: sandbox.url, store: { home, url: undefined, workspace: "tv" }, env: {} })
})
afterAll(async () => {
  await keyway.close()
  await sandbox.stop()
})

const MISSING_VIEW = /the view does not exist, or the API User's role cannot see it/

describe("TrackVia: a view that does not exist", () => {
  it("the fake answers exactly 401 accessDenied with a string code, not 404", async () => {
    const response = await fetch(
      `${sandbox.baseUrls.trackvia}/openapi/views/999?user_key=sandbox-valid&start=0&max=1000`,
      {
        headers: { Authorization: "Bearer sandbox-valid" },
      },
    )
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({
      errors: [],
      message: expect.any(String),
      name: "accessDenied",
      code: "401",
    })
  })

  it("a sync of viewRecords with an unknown viewId names the view, not the key, and leaves the connection alone", async () => {
    const { connection } = await keyway.connect({
      connectorId: "trackvia",
      credentials: { apiKey: "sandbox-valid", authToken: "sandbox-valid" },
    })
    if (!connection) throw new Error("could not save a TrackVia connection")
    const error = await keyway
      .sync({
        connectionId: connection.id,
        streamId: "viewRecords",
        params: { viewId: "999" },
        openSink: async () => discardSink,
      })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({
      _tag: "SyncRequestRejected",
      page: 1,
      verdict: {
        outcome: "not_found",
        scope: "request",
        httpStatus: 401,
        message: expect.stringMatching(MISSING_VIEW),
      },
    })
    expect((error as { verdict: { message: string } }).verdict.message).not.toMatch(/rejected the API key/)
    expect((await keyway.connections.get(connection.id)).lastTest?.verdict.outcome).toBe("connected")
  })

  it("the CLI says so too (exit 2, a parameter problem)", async () => {
    const env = { KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-trackvia-cli-")), KEYWAY_SANDBOX_URL: sandbox.url }
    const connected = await cli(["connect", "trackvia", "--sandbox", "--json"], {
      env,
      stdin: JSON.stringify({ apiKey: "sandbox-valid", authToken: "sandbox-valid" }),
    })
    const id = JSON.parse(connected.stdout).connection.id as string
    const synced = await cli(["sync", id, "viewRecords", "--param", "viewId=999", "--sandbox"], { env })
    expect(synced.code).toBe(2)
    expect(synced.stderr).toMatch(MISSING_VIEW)
  })

  it("a wrong API key (user_key) is still judged as a rejected key, not as a missing view", async () => {
    const result = await keyway.test({
      connectorId: "trackvia",
      credentials: { apiKey: "sandbox-invalid", authToken: "sandbox-valid" },
    })
    expect(result.verdict).toMatchObject({ outcome: "invalid_credentials", scope: "credential" })
    expect(result.verdict.message).toMatch(/API key \(user_key\)/)
  })
})

describe("TrackVia: definition text", () => {
  const yaml = readFileSync(new URL("../connectors/trackvia.yaml", import.meta.url), "utf8")
  const definition = () => keyway.catalog.get("trackvia") as ConnectorDefinition

  it("says next to the user_key placement why it is the query string, though the setup guide says header", () => {
    const auth = yaml.slice(yaml.indexOf("\nauth:"), yaml.indexOf("\ntest:"))
    expect(auth).toMatch(/setup guide/i)
    expect(auth).toMatch(/header/)
    expect(auth).toMatch(/vendors\.md \(H/)
    expect(definition().auth[0]).toMatchObject({ in: "query", name: "user_key" })
  })

  it("setup steps name the API Access tab under My Account and Set As API User, in order", () => {
    const steps = definition().setup.steps
    const at = (pattern: RegExp) => steps.findIndex((step) => pattern.test(step))
    const apiUser = at(/Set As API User/)
    const apiAccess = at(/API Access tab under My Account/)
    const userKey = at(/user_key/)
    const token = at(/auth token/)
    expect(apiUser).toBeGreaterThanOrEqual(0)
    expect(apiAccess).toBeGreaterThan(apiUser)
    expect(userKey).toBeGreaterThanOrEqual(apiAccess)
    expect(token).toBeGreaterThan(userKey)
  })
})
