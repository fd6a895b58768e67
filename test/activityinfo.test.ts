/**
 * ActivityInfo findings: 410 DELETED acted out by the fake and judged by the definition, the invented
 * stream shapes marked `assumed`, and a token-scope probe that says only what it can know.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ConnectorDefinition } from "../core/definition.ts"
import { DELETED_DATABASE_ID, DELETED_FORM_ID } from "../fixtures/activityinfo.ts"
import { createKeyway, type Keyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { discardSink } from "./support/sinks.ts"

let sandbox: Sandbox
let keyway: Keyway
beforeAll(async () => {
  sandbox = await startSandbox({ records: 20 })
  const store = { home: mkdtempSync(join(tmpdir(), "keyway-activityinfo-")), url: undefined, workspace: "ai" }
  keyway = createKeyway({ sandboxUrl: sandbox.url, store, env: {} })
})
afterAll(async () => {
  await keyway.close()
  await sandbox.stop()
})

const auth = { Authorization: "Bearer sandbox-valid", "Content-Type": "application/json" }
const call = async (path: string, body?: unknown) => {
  const response = await fetch(`${sandbox.baseUrls.activityinfo}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: auth,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.status, body: (await response.json()) as unknown }
}

const syncError = async (streamId: string, params: Record<string, string>) => {
  const { connection } = await keyway.connect({
    connectorId: "activityinfo",
    credentials: { apiToken: "sandbox-valid" },
  })
  if (!connection) throw new Error("could not save an ActivityInfo connection")
  const error = await keyway
    .sync({ connectionId: connection.id, streamId, params, openSink: async () => discardSink })
    .catch((e: unknown) => e)
  return { error, connection: await keyway.connections.get(connection.id) }
}

describe("ActivityInfo: a deleted database or form", () => {
  it("the fake answers 410 DELETED in the vendor's error shape, wherever the id is named", async () => {
    const deleted = { status: 410, body: { code: "DELETED", message: expect.any(String) } }
    expect(await call(`/resources/databases/${DELETED_DATABASE_ID}`)).toMatchObject(deleted)
    expect(await call(`/resources/databases/${DELETED_DATABASE_ID}/audit`, { typeFilter: ["RECORD"] })).toMatchObject(
      deleted,
    )
    expect(await call(`/resources/form/${DELETED_FORM_ID}/schema`)).toMatchObject(deleted)
    expect(await call(`/resources/form/${DELETED_FORM_ID}/query/columns`)).toMatchObject(deleted)
    expect(
      await call("/resources/query/columns", { rowSources: [{ rootFormId: DELETED_FORM_ID }], window: [0, 10] }),
    ).toMatchObject(deleted)
    // An id that never existed is still 404, not 410.
    expect(await call("/resources/form/cfm9nope/schema")).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } })
  })

  it("a sync of a deleted form or database meets the definition's 410 rule: this request, not the token", async () => {
    for (const [streamId, params] of [
      ["formRecords", { formId: DELETED_FORM_ID }],
      ["auditLog", { databaseId: DELETED_DATABASE_ID }],
    ] as const) {
      const { error, connection } = await syncError(streamId, params)
      expect(error).toMatchObject({
        _tag: "SyncRequestRejected",
        page: 1,
        verdict: {
          outcome: "not_found",
          scope: "request",
          httpStatus: 410,
          message: "The ActivityInfo resource has been deleted.",
        },
      })
      // The connection is not marked as failing: the token was never in question.
      expect(connection?.lastTest?.verdict.outcome).toBe("connected")
    }
  })
})

describe("ActivityInfo: invented shapes are marked assumed", () => {
  const definition = () => keyway.catalog.get("activityinfo") as ConnectorDefinition
  const stream = (id: string) => definition().reports?.find((s) => s.id === id)

  it("the rowSources/rootFormId body, the audit event shape and its [time, recordId] key", () => {
    expect(stream("formRecords")?.assumed).toMatch(/rowSources.*rootFormId/)
    expect(stream("auditLog")?.assumed).toMatch(/event/)
    expect(stream("auditLog")?.assumed).toMatch(/\[time, recordId\]/)
    expect(stream("databases")?.assumed).toBeUndefined()
    const lines = definition().assumed ?? []
    expect(lines.some((line) => /rowSources/.test(line))).toBe(true)
    expect(lines.some((line) => /audit event/i.test(line))).toBe(true)
    expect(lines.some((line) => /\[time, recordId\]/.test(line))).toBe(true)
  })
})

describe("ActivityInfo: the token-scope probe judges only what it can", () => {
  const warningsFor = async (token: string) =>
    (await keyway.test({ connectorId: "activityinfo", credentials: { apiToken: token } })).warnings

  it("no warning when every token on the account is READ_ONLY", async () => {
    expect(await warningsFor("sandbox-readonly")).toEqual([])
  })

  it("every token READ_WRITE: the entered one must be, and the warning says so", async () => {
    expect(await warningsFor("sandbox-readwrite-all")).toEqual([
      expect.stringMatching(/^Every API token on this ActivityInfo account is READ_WRITE, so the one you entered is/),
    ])
  })

  it("some tokens READ_WRITE: the warning says plainly that Keyway cannot tell which token is the entered one", async () => {
    const warnings = await warningsFor("sandbox-readwrite")
    expect(warnings).toEqual([expect.stringMatching(/cannot tell whether the token you entered is one of them/)])
    expect(warnings[0]).not.toMatch(/^This account has a READ_WRITE API token/)
  })
})
