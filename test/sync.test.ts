/**
 * Sync against the sandbox over real sockets: every paging kind on every stream, resuming after an
 * interruption, a 429 storm, a key revoked mid-sync, and malformed pages.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ConnectorDefinition } from "../core/definition.ts"
import { createKeyway, type Keyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { Sandbox as SandboxService } from "../runner/sandbox/service.ts"
import { fileSink, type Sink } from "../runner/sync/sinks.ts"
import { checkpointKey, runSync, type SyncRequest, type SyncState } from "../runner/sync/sync.ts"
import { connect } from "../runner/vault/connections.ts"
import { Store } from "../runner/vault/store.ts"
import { inVirtualTime } from "./support/virtual-time.ts"

let sandbox: Sandbox
let keyway: Keyway
const home = mkdtempSync(join(tmpdir(), "keyway-sync-"))
const store = { home, url: undefined, workspace: "sync" }

beforeAll(async () => {
  sandbox = await startSandbox({ records: 2500 })
  keyway = createKeyway({ sandboxUrl: sandbox.url, store, env: {} })
})
afterAll(async () => {
  await keyway.close()
  await sandbox.stop()
})

const stored = <A>(read: (store: Store["Type"]) => Effect.Effect<A, unknown>) => keyway.run(Effect.flatMap(Store, read))

/** A sink that keeps records in memory, for the tests that count them. */
const collecting = () => {
  const records: unknown[] = []
  const sink: Sink = {
    describe: "memory",
    partial: undefined,
    write: async (_stream, page) => {
      records.push(...page.map((json) => JSON.parse(json)))
    },
    position: () => undefined,
    commit: async () => {},
    abort: async () => {},
  }
  return { records, sink }
}

const save = async (connector: string, credentials: Record<string, string>, instance = keyway) => {
  const { connection } = await instance.connect({ connectorId: connector, credentials })
  if (!connection) throw new Error(`could not save a ${connector} connection`)
  return connection.id
}

const sync = (request: Omit<SyncRequest, "openSink"> & { sink?: Sink }, instance = keyway, signal?: AbortSignal) => {
  const sink = request.sink ?? collecting().sink
  return instance.sync({ ...request, openSink: async () => sink }, signal ? { signal } : undefined)
}

const pull = async (connectionId: string, streamId: string, extra: Partial<SyncRequest> = {}) => {
  const { records, sink } = collecting()
  const summary = await sync({ connectionId, streamId, ...extra, sink })
  return { records: records as Array<Record<string, unknown>>, summary }
}

const RANGE = { from: "2026-01-01", to: "2026-01-20" }

describe("each paging kind on each stream", () => {
  it("ActivTrak working hours: page/pageSize with total, a short last page, every record in order", async () => {
    const id = await save("activtrak", { apiKey: "sandbox-records-2500" })
    const { records, summary } = await pull(id, "workingHoursUsers", RANGE)
    expect(summary).toMatchObject({ records: 2500, pages: 3, slices: 1, resumePoint: "2026-01-20" })
    expect(records.map((r) => r.userId)).toEqual(Array.from({ length: 2500 }, (_, i) => (i % 40) + 1))
    const computers = await pull(id, "workingHoursComputers", { ...RANGE, params: { deviceId: "1003" } })
    expect(computers.summary.records).toBe(2500)
  })

  it("ActivTrak working hours: a long range is sliced into 31-day windows", async () => {
    const id = await save("activtrak", { apiKey: "sandbox-records-10" })
    const { summary } = await pull(id, "workingHoursUsers", { from: "2026-01-01", to: "2026-03-31" })
    expect(summary).toMatchObject({ slices: 3, records: 30, pages: 3 })
  })

  it("an empty report: no records, one page, done", async () => {
    const id = await save("activtrak", { apiKey: "sandbox-records-0" })
    expect((await pull(id, "workingHoursUsers", RANGE)).summary).toMatchObject({ records: 0, pages: 1 })
  })

  it("ActivTrak activity log: cursor paging; the echoed cursor ends it, and the next sync picks up there", async () => {
    const id = await save("activtrak", { apiKey: "sandbox-records-2500" })
    const first = await pull(id, "activityLog", RANGE)
    expect(first.summary).toMatchObject({ records: 2500, pages: 4 })
    expect(new Set(first.records.map((r) => r.logId)).size).toBe(2500)
    const second = await pull(id, "activityLog", RANGE)
    expect(second.summary).toMatchObject({ records: 0, pages: 1 })
  })

  it("ActivTrak SCIM users: offset paging from 1, with the SCIM token", async () => {
    const id = await save("activtrak", { apiKey: "sandbox-valid", scimToken: "sandbox-records-250" })
    const { records, summary } = await pull(id, "scimUsers")
    expect(summary).toMatchObject({ records: 250, pages: 3 })
    expect(records.at(-1)?.id).toBe("u-250")
  })

  it("ActivityInfo: databases in one piece; form records as column-set windows turned into rows", async () => {
    const id = await save("activityinfo", { apiToken: "sandbox-records-2500" })
    const databases = await pull(id, "databases")
    expect(databases.summary).toMatchObject({ records: 3, pages: 1 })
    const { records, summary } = await pull(id, "formRecords", { params: { formId: "cfm11q9r4" } })
    expect(summary).toMatchObject({ records: 2500, pages: 3 })
    expect(records[2499]).toEqual({
      _id: "cfm11q9r4-r2499",
      name: expect.any(String),
      count: expect.any(Number),
      partner: "Partner NGO",
      notes: null,
    })
  })

  it("ActivityInfo audit log: a feed while moreEvents, and the next sync starts at the last endTime", async () => {
    const id = await save("activityinfo", { apiToken: "sandbox-records-250" })
    const first = await pull(id, "auditLog", { params: { databaseId: "cdb1x7k2m" } })
    expect(first.summary).toMatchObject({ records: 250, pages: 3 })
    const second = await pull(id, "auditLog", { params: { databaseId: "cdb1x7k2m" } })
    expect(second.summary.records).toBe(0)
  })

  it("PeopleTray people and TrackVia views: one request each", async () => {
    const people = await pull(await save("peopletray", { apiKey: "sandbox-records-30" }), "people")
    expect(people.summary.pages).toBe(1)
    expect(people.records.every((p) => p.Active === true)).toBe(true)
    const trackvia = await save("trackvia", { apiKey: "sandbox-valid", authToken: "sandbox-records-2500" })
    expect((await pull(trackvia, "views")).summary).toMatchObject({ records: 3, pages: 1 })
  })

  it("TrackVia view records: start/max offset paging with totalCount", async () => {
    const id = await save("trackvia", { apiKey: "sandbox-valid", authToken: "sandbox-records-2500" })
    const { records, summary } = await pull(id, "viewRecords", { params: { viewId: "341" } })
    expect(summary).toMatchObject({ records: 2500, pages: 3 })
    expect(records.map((r) => r.id)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1))
    expect((await pull(id, "users")).summary).toMatchObject({ records: 500, pages: 1 })
  })

  it("refuses a missing required parameter, an unknown one, and dates on a stream without a range", async () => {
    const id = await save("trackvia", { apiKey: "sandbox-valid", authToken: "sandbox-valid" })
    await expect(pull(id, "viewRecords")).rejects.toMatchObject({ problems: [{ field: "params.viewId" }] })
    await expect(pull(id, "views", { params: { colour: "red" } })).rejects.toMatchObject({
      problems: [{ field: "params.colour" }],
    })
    await expect(pull(id, "views", RANGE)).rejects.toMatchObject({ problems: [{ field: "from" }] })
  })
})

describe("resuming", () => {
  it("an interrupted sync resumes from its checkpoint, and the file holds every record exactly once", async () => {
    const id = await save("trackvia", { apiKey: "sandbox-valid", authToken: "sandbox-records-5500" })
    const out = join(home, "view.ndjson")
    const controller = new AbortController()
    const interrupted = sync(
      {
        connectionId: id,
        streamId: "viewRecords",
        params: { viewId: "341" },
        sink: await fileSink(out),
        // After the third page is written (a report before a wait says so: it is not a page).
        onProgress: (progress) => {
          if (!progress.waiting && progress.pages === 3) controller.abort()
        },
      },
      keyway,
      controller.signal,
    )
    await expect(interrupted).rejects.toThrow()
    const state = await stored((s) => s.getState<SyncState>(checkpointKey(id, "viewRecords", { viewId: "341" })))
    expect(state).toMatchObject({
      status: "running",
      pages: 3,
      records: 3000,
      position: { kind: "offset", offset: 3000 },
    })
    expect(state?.partial).toMatch(/view\.ndjson\.[0-9a-f]{12}\.partial$/)
    expect(readFileSync(state?.partial as string, "utf8").split("\n").length - 1).toBe(3000)

    const resumed = await keyway.sync({
      connectionId: id,
      streamId: "viewRecords",
      params: { viewId: "341" },
      resume: true,
      openSink: (at) => fileSink(out, at),
    })
    expect(resumed).toMatchObject({ resumed: true, records: 5500, pages: 6 })
    const ids = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).record.id)
    expect(ids).toEqual(Array.from({ length: 5500 }, (_, i) => i + 1))
  })

  it("a sync killed while moving its output into place is finished by the next run, and its records count as delivered", async () => {
    const id = await save("activtrak", { apiKey: "sandbox-records-2500" })
    const first = join(home, "log-1.ndjson")
    const window = { from: "2026-02-01", to: "2026-02-02" }
    await keyway.sync({ connectionId: id, streamId: "activityLog", ...window, openSink: (at) => fileSink(first, at) })
    // As if killed between writing "committing" and the rename: the output is still the partial file.
    const key = checkpointKey(id, "activityLog", {})
    const done = (await stored((s) => s.getState<SyncState>(key))) as SyncState
    renameSync(first, done.partial as string)
    await stored((s) => s.putState(key, { ...done, status: "committing" }))

    const second = join(home, "log-2.ndjson")
    const moved = await keyway.sync({
      connectionId: id,
      streamId: "activityLog",
      // A wider window over the same start: every record of the first is in it again.
      from: "2026-02-01",
      to: "2026-02-03",
      openSink: (at) => fileSink(second, at),
    })
    const logIds = (file: string) =>
      readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line).record.logId as number)
    const ids = [...logIds(first), ...logIds(second)]
    expect(logIds(first)).toHaveLength(2500)
    expect(moved.skipped).toBe(2500)
    expect(new Set(ids).size).toBe(ids.length)
    expect(existsSync(done.partial as string)).toBe(false)
  })

  it("--resume with nothing to resume is a clear error", async () => {
    const id = await save("trackvia", { apiKey: "sandbox-valid", authToken: "sandbox-valid" })
    await expect(pull(id, "views", { resume: true })).rejects.toMatchObject({ problems: [{ field: "resume" }] })
  })
})

describe("errors during a sync", () => {
  it("a 401 mid-sync stops it, says how to resume, and marks the connection", async () => {
    const id = await save("activtrak", { apiKey: "sandbox-revoked-after-3-sync" })
    const error = await pull(id, "workingHoursUsers", RANGE).catch((e: unknown) => e)
    expect(error).toMatchObject({
      _tag: "SyncFailed",
      page: 3,
      verdict: { outcome: "invalid_credentials", httpStatus: 401 },
      resume: `npx keyway sync ${id} workingHoursUsers --resume`,
    })
    const record = await stored((s) => s.get(id))
    expect(record?.lastTest).toMatchObject({ by: "sync", verdict: { outcome: "invalid_credentials" } })
    expect(record?.lastTest?.verdict.message).toMatch(/^credentials rejected during sync: page 3/)
  })

  it("a page that is not JSON is a clear error, and the state stays resumable at that page", async () => {
    const id = await save("trackvia", { apiKey: "sandbox-valid", authToken: "sandbox-garbled-after-3-sync" })
    const error = await pull(id, "viewRecords", { params: { viewId: "341" } }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      _tag: "SyncFailed",
      page: 3,
      verdict: {
        outcome: "unexpected_response",
        code: "expectation_failed",
        reason: "expectation: the body is not JSON",
      },
    })
    expect(String((error as Error).message)).toMatch(/^page 3: /)
    const state = await stored((s) => s.getState<SyncState>(checkpointKey(id, "viewRecords", { viewId: "341" })))
    expect(state).toMatchObject({
      status: "failed",
      pages: 2,
      records: 2000,
      position: { kind: "offset", offset: 2000 },
    })
  })

  it("records not where the stream says are a clear error", async () => {
    const trackvia = keyway.catalog.get("trackvia") as ConnectorDefinition
    const broken = {
      ...trackvia,
      reports: trackvia.reports?.map((s) => (s.id === "views" ? { ...s, records: "rows" } : s)),
    }
    const brokenKeyway = createKeyway({ sandboxUrl: sandbox.url, definitions: [broken], store, env: {} })
    try {
      const id = await save("trackvia", { apiKey: "sandbox-valid", authToken: "sandbox-valid" }, brokenKeyway)
      await expect(sync({ connectionId: id, streamId: "views" }, brokenKeyway)).rejects.toMatchObject({
        page: 1,
        verdict: { outcome: "unexpected_response", reason: 'expectation: there are no records at "rows"' },
      })
    } finally {
      await brokenKeyway.close()
    }
  })
})

describe("a 429 storm in the middle of a sync", () => {
  it("is survived, with the vendor's waits honoured and every record delivered once", async () => {
    // In virtual time: the fake's token bucket and the engine's waits read the same TestClock.
    const storm = Effect.gen(function* () {
      const clock = yield* Effect.clock
      const stormy = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startSandbox({
            records: 8000,
            rateLimit: { perSecond: 4, burst: 2, mode: "retry-after" },
            now: () => clock.unsafeCurrentTimeMillis(),
          }),
        ),
        (started) => Effect.promise(() => started.stop()),
      )
      const definition = keyway.catalog.get("trackvia") as ConnectorDefinition
      const { records, sink } = collecting()
      const summary = yield* Effect.gen(function* () {
        const { connection } = yield* connect(definition, {
          connectorId: "trackvia",
          credentials: { apiKey: "sandbox-valid", authToken: "sandbox-valid" },
        })
        return yield* runSync({
          connectionId: connection?.id as string,
          streamId: "viewRecords",
          params: { viewId: "341" },
          openSink: async () => sink,
        })
      }).pipe(Effect.provideService(SandboxService, { url: stormy.url }))
      return { summary, records, throttled: stormy.state.statusCounts.get(429) }
    })
    const { summary, records, throttled } = await keyway.run(inVirtualTime(Effect.scoped(storm)))
    expect(summary.records).toBe(8000)
    expect(new Set(records.map((r) => (r as { id: number }).id)).size).toBe(8000)
    expect(summary.waits).toBeGreaterThan(0)
    expect(throttled).toBe(summary.waits)
  })
})
