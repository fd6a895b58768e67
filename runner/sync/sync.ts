/**
 * Sync: pulls a report stream from a saved connection, page by page, into a sink. Pages flow through
 * an Effect Stream, one at a time, so memory stays flat whatever the report's size. After each page
 * is written, the position is checkpointed in the store: a sync killed mid-way resumes from there
 * (`resume`), and an incremental stream's next sync picks up where the last one ended.
 *
 * It uses the same transport, retry engine, outcomes and secrets as save & test, with the larger
 * sync wait budget.
 */
import { createHash, hash as oneShotHash } from "node:crypto"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { classify, type SuccessCheck } from "../../core/classify.ts"
import type { ReportStream } from "../../core/definition.ts"
import {
  addSpan,
  type CursorValue,
  highWater,
  isCursorValue,
  isDelivered,
  type Place,
  primaryKeyTexts,
  type Span,
  widen,
} from "../../core/delivered.ts"
import { type FieldProblem, InvalidInput, invalidInput } from "../../core/fields.ts"
import type { Verdict } from "../../core/outcomes.ts"
import { hostScheduleOf } from "../../core/pacer.ts"
import {
  type DateSlice,
  dateSlices,
  firstPosition,
  isColumnSet,
  nextPosition,
  type Position,
  pageRequest,
  recordsOf,
  resumePointOf,
  sliceParams,
  totalOf,
} from "../../core/paging.ts"
import { prepare } from "../../core/prepare.ts"
import { policyFor } from "../../core/retry.ts"
import { templateReferences } from "../../core/template.ts"
import { type Catalog, type DefinitionInvalid, findDefinition, type UnknownConnector } from "../catalog/catalog.ts"
import { testCredentials } from "../check/check.ts"
import { HttpEngine, PacingKey } from "../http/engine.ts"
import { buildRequest } from "../http/request.ts"
import { Sandbox } from "../sandbox/service.ts"
import { findConnection, openCredentials } from "../vault/connections.ts"
import type { ConnectionNotFound, StoreError, UnsealFailed } from "../vault/errors.ts"
import type { Keyring } from "../vault/sealing.ts"
import { Store } from "../vault/store.ts"
import { describeIoError, finishCommit, OutputFailed, type ResumeAt, type Sink } from "./sinks.ts"

export interface SyncState {
  readonly v: 1
  readonly connectionId: string
  readonly stream: string
  readonly params: Readonly<Record<string, string>>
  /** `committing`: every page is written, and the output is being moved into place. */
  readonly status: "running" | "committing" | "done" | "failed"
  readonly slices: ReadonlyArray<DateSlice> | undefined
  /** Index of the slice in progress. */
  readonly slice: number
  /** Where the next page starts; undefined when the slice is finished. */
  readonly position: Position | undefined
  readonly records: number
  readonly pages: number
  /** A file sink's size at this checkpoint: a resume cuts the partial file back to it. */
  readonly outputBytes: number | undefined
  /** A file sink's partial file, which a resume continues. */
  readonly partial?: string | undefined
  readonly out: string | undefined
  /** Where the next sync picks up: a cursor, a feed start, or the largest incremental value. */
  readonly resumePoint: string | number | undefined
  readonly updatedAt: string
  readonly error?: string
  /** For an incremental stream: what completed syncs delivered, whatever their windows. */
  readonly delivered?: ReadonlyArray<Span>
  /** For an incremental stream: what this run has seen so far; delivered once it completes. */
  readonly seen?: Span
  /** Records of this run left out because an earlier sync delivered them. */
  readonly skipped?: number
}

const pageText = (page: number, verdict: Verdict): string =>
  `page ${page}: ${verdict.message}${verdict.vendorMessage ? ` (the vendor said: ${verdict.vendorMessage})` : ""}`

export class SyncFailed extends Data.TaggedError("SyncFailed")<{
  /** The page that failed, counted from 1 across the whole sync. */
  readonly page: number
  readonly verdict: Verdict
  /** How to carry on, e.g. the command with --resume. */
  readonly resume: string
  /** The vendor rejected the credentials themselves (the test request failed too): the connection is marked. */
  readonly credentialsRejected: boolean
}> {
  override get message(): string {
    return pageText(this.page, this.verdict)
  }
}

/**
 * The vendor refused this one request (an unknown view or form, a bad parameter) while the
 * credentials work: the parameters are the user's to fix; the connection is left alone.
 */
export class SyncRequestRejected extends Data.TaggedError("SyncRequestRejected")<{
  readonly page: number
  readonly verdict: Verdict
  readonly params: Readonly<Record<string, string>>
}> {
  override get message(): string {
    const given = Object.entries(this.params).map(([k, v]) => `${k}=${v}`)
    return `${pageText(this.page, this.verdict)}${given.length > 0 ? ` Parameters given: ${given.join(", ")}.` : ""}`
  }
}

export interface SyncProgress {
  readonly records: number
  readonly pages: number
  readonly waits: number
  readonly waitedMs: number
  /** Records the current slice holds, when the vendor says. */
  readonly total: number | undefined
  readonly slice: number
  readonly slices: number
  /** The date window being pulled, for a stream with a date range. */
  readonly window: DateSlice | undefined
  /** Set while the sync waits before a request: how long, and what set it (the vendor's header, backoff, pace). */
  readonly waiting?: { readonly ms: number; readonly setBy: string }
  readonly elapsedMs: number
}

export interface SyncRequest {
  readonly connectionId: string
  readonly streamId: string
  readonly params?: Readonly<Record<string, string>>
  /** Inclusive dates, YYYY-MM-DD, for streams with a date range. */
  readonly from?: string
  readonly to?: string
  readonly resume?: boolean
  /**
   * Opens the sink once the runner knows where to start: on resume, the partial file and its size at
   * the last checkpoint, so it is continued from there.
   */
  readonly openSink: (resume: ResumeAt | undefined) => Promise<Sink>
  readonly onProgress?: (progress: SyncProgress) => void
}

export interface SyncSummary {
  readonly connectionId: string
  readonly stream: string
  readonly records: number
  readonly pages: number
  readonly slices: number
  readonly waits: number
  readonly waitedMs: number
  readonly durationMs: number
  readonly resumed: boolean
  readonly resumePoint: string | number | undefined
  readonly out: string
  /** Records left out because an earlier sync of the stream delivered them. */
  readonly skipped: number
}

export const checkpointKey = (connectionId: string, streamId: string, params: Readonly<Record<string, string>>) => {
  const hash = createHash("sha256")
    .update(JSON.stringify(Object.entries(params).sort()))
    .digest("hex")
    .slice(0, 12)
  return `${connectionId}:${streamId}:${hash}`
}

const DAY_MS = 86_400_000
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10)

const invalid = invalidInput

/** A word the shell reads back as itself. */
const shellWord = (word: string): string => (/^[\w./@:=,+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`)

const asOutputFailed = (error: unknown, out: string): OutputFailed =>
  error instanceof OutputFailed ? error : new OutputFailed({ out, detail: describeIoError(error) })

/** The stream's query, less the parameters whose templates name an optional param not given. */
const queryFor = (stream: ReportStream, params: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(stream.query ?? {}).filter(([, template]) =>
      templateReferences(template).references.every(
        (r) => r.kind !== "scoped" || r.namespace !== "params" || params[r.key] !== undefined,
      ),
    ),
  )

const checkParams = (stream: ReportStream, params: Readonly<Record<string, string>>): FieldProblem[] => {
  const declared = stream.params ?? []
  return [
    ...Object.keys(params)
      .filter((key) => !declared.some((p) => p.key === key))
      .map((key) => ({
        field: `params.${key}`,
        message: `is not a parameter of ${stream.id} (parameters: ${declared.map((p) => p.key).join(", ") || "none"})`,
      })),
    ...declared
      .filter((p) => p.required && !params[p.key])
      .map((p) => ({ field: `params.${p.key}`, message: `is required (${p.description})` })),
    // Two params of one exclusive group: the vendor would refuse the request, so it is not sent.
    ...(stream.exclusiveParams ?? []).flatMap((group) => {
      const [first, ...others] = group.filter((key) => params[key] !== undefined)
      return others.map((key) => ({
        field: `params.${key}`,
        message: `cannot be given with params.${first}: ${stream.id} takes at most one of ${group.join(", ")}`,
      }))
    }),
  ]
}

const largest = (a: string | number | undefined, b: unknown): string | number | undefined => {
  if (typeof b !== "string" && typeof b !== "number") return a
  if (a === undefined) return b
  return typeof a === "number" && typeof b === "number" ? Math.max(a, b) : String(b) > String(a) ? b : a
}

/** A page is a success when its body is JSON with the stream's records where the stream says. */
const pageCheck =
  (stream: ReportStream): SuccessCheck =>
  (facts) => {
    if (facts.status < 200 || facts.status >= 300) return `status ${facts.status} was not expected`
    if (facts.json === undefined) return "the body is not JSON"
    // A column set is turned into rows once, after this check; here it only has to be one.
    const found = stream.columnSet ? isColumnSet(facts.json) : recordsOf(stream, facts.json) !== undefined
    return found ? undefined : `there are no records at "${stream.records}"`
  }

/**
 * A record's place for de-duplication, its key and content hash computed only when asked: only
 * records at a span's edge need them. A class, not an object with its own getters: one of those per
 * record cost closures and accessors each.
 */
class RecordPlace implements Place {
  #key: string | undefined
  #hash: string | undefined
  constructor(
    readonly value: CursorValue,
    private readonly fields: Readonly<Record<string, unknown>>,
    private readonly keyText: (fields: Readonly<Record<string, unknown>>) => string,
    private readonly json: string,
  ) {}
  get key(): string {
    this.#key ??= this.keyText(this.fields)
    return this.#key
  }
  get hash(): string {
    this.#hash ??= oneShotHash("sha256", this.json, "base64url").slice(0, 16)
    return this.#hash
  }
}

/**
 * A page as fetched. Its records are taken once, by the step that sorts them: the fiber that fetched
 * the page keeps the page as its result past this page's write and checkpoint, and its records are
 * not to live that long (see the page loop).
 */
class FetchedPage {
  #records: ReadonlyArray<unknown> | undefined
  constructor(
    records: ReadonlyArray<unknown>,
    readonly next: Position | undefined,
    readonly resumePoint: CursorValue | undefined,
  ) {
    this.#records = records
  }
  takeRecords(): ReadonlyArray<unknown> {
    const records = this.#records ?? []
    this.#records = undefined
    return records
  }
}

/** A page as the sink gets it, and where the sync stands after it. */
interface SortedPage {
  readonly next: Position | undefined
  readonly fresh: ReadonlyArray<string>
  readonly skipped: number
  readonly resumePoint: CursorValue | undefined
  readonly seen: Span | undefined
}

/**
 * Waits for the event loop's next turn. A page's work is synchronous and takes milliseconds; waiting
 * first lets the next page's request go out, so the vendor's answer time runs beside that work
 * (a yield to Effect's scheduler alone came back before the request was sent).
 */
const nextTurn = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

export const runSync = (
  request: SyncRequest,
): Effect.Effect<
  SyncSummary,
  | SyncFailed
  | SyncRequestRejected
  | OutputFailed
  | InvalidInput
  | ConnectionNotFound
  | UnsealFailed
  | StoreError
  | UnknownConnector
  | DefinitionInvalid,
  HttpEngine | Store | Keyring | Catalog
> =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const started = clock.unsafeCurrentTimeMillis()
    const store = yield* Store
    const engine = yield* HttpEngine
    const sandbox = yield* Effect.serviceOption(Sandbox)
    const record = yield* findConnection(request.connectionId)
    const definition = yield* findDefinition(record.connector)
    const stream = definition.reports?.find((s) => s.id === request.streamId)
    if (!stream) {
      const known = definition.reports?.map((s) => s.id).join(", ") || "none"
      return yield* Effect.fail(
        invalid("stream", `"${request.streamId}" is not a stream of ${record.connector} (streams: ${known})`),
      )
    }
    const params = request.params ?? {}
    const paramProblems = checkParams(stream, params)
    if (paramProblems.length > 0) return yield* Effect.fail(new InvalidInput({ problems: paramProblems }))
    const stored = yield* openCredentials(record)
    for (const key of stream.whenCredentials ?? []) {
      if (!stored[key]) {
        return yield* Effect.fail(
          invalid(`credentials.${key}`, `is needed by the ${stream.id} stream; re-connect with it`),
        )
      }
    }
    const prepared = prepare(
      definition,
      { connectorId: definition.id, credentials: stored, settings: record.settings },
      Option.getOrUndefined(sandbox)?.url,
    )
    if (Either.isLeft(prepared)) return yield* Effect.fail(prepared.left)
    const { baseUrl, credentials, settings, secrets, sandboxed } = prepared.right
    const now = new Date(started)

    // Where to start: a checkpoint to resume, or a fresh run (from the last sync's end, if incremental).
    const key = checkpointKey(record.id, stream.id, params)
    const lastRun = yield* store.getState<SyncState>(key)
    // Killed while moving its output into place: finish that first, so its records count as delivered.
    const previous: SyncState | undefined =
      lastRun?.status === "committing"
        ? yield* Effect.gen(function* () {
            yield* Effect.tryPromise({
              try: () => finishCommit(lastRun.partial, lastRun.out),
              catch: (error) => asOutputFailed(error, lastRun.out ?? "the output"),
            })
            const done: SyncState = { ...lastRun, status: "done", updatedAt: now.toISOString() }
            yield* store.putState(key, done)
            return done
          })
        : lastRun
    if (request.resume && (!previous || previous.status === "done")) {
      return yield* Effect.fail(
        invalid(
          "resume",
          previous
            ? "the last sync of this stream completed; there is nothing to resume"
            : "there is no interrupted sync of this stream to resume",
        ),
      )
    }
    // What completed syncs of this stream delivered, whatever their windows: carried into every run.
    const delivered = previous?.delivered ?? []
    const resuming = request.resume === true && previous !== undefined
    if (!stream.dateRange && (request.from || request.to)) {
      return yield* Effect.fail(invalid("from", `the ${stream.id} stream has no date range`))
    }
    let slices: ReadonlyArray<DateSlice> | undefined
    if (resuming) slices = previous.slices
    else if (stream.dateRange) {
      const lastEnd = stream.incremental
        ? (highWater(delivered) ?? (previous?.status === "done" ? previous.resumePoint : undefined))
        : undefined
      const from =
        request.from ?? (typeof lastEnd === "string" ? lastEnd.slice(0, 10) : isoDay(now.getTime() - 7 * DAY_MS))
      const to = request.to ?? isoDay(now.getTime())
      for (const [field, value] of [
        ["from", from],
        ["to", to],
      ] as const) {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) {
          return yield* Effect.fail(invalid(field, "must be a date, YYYY-MM-DD"))
        }
      }
      slices = dateSlices(from, to, stream.dateRange.maxDays)
      if (slices.length === 0) return yield* Effect.fail(invalid("to", "must not be before from"))
    }
    // Cursor and feed streams continue from where the last complete sync of the same range ended.
    const carriedOver =
      !resuming &&
      previous?.status === "done" &&
      (stream.paging.kind === "cursor" || stream.paging.kind === "feed") &&
      JSON.stringify(previous.slices) === JSON.stringify(slices)
        ? previous.resumePoint
        : undefined
    const sink = yield* Effect.tryPromise({
      try: () => request.openSink(resuming ? { at: previous.outputBytes ?? 0, partial: previous.partial } : undefined),
      catch: (error) => asOutputFailed(error, "the output"),
    })
    const resumeCommand = [
      "npx keyway sync",
      record.id,
      stream.id,
      ...Object.entries(params).map(([k, v]) => `--param ${shellWord(`${k}=${v}`)}`),
      ...(sink.partial ? [`--out ${shellWord(sink.describe)}`] : []),
      "--resume",
    ].join(" ")
    /** One step of the sink; a failure names the output, and how to resume once it is fixed. */
    const onSink = (step: () => Promise<void>) =>
      Effect.tryPromise({
        try: step,
        catch: (error) => {
          const failed = asOutputFailed(error, sink.describe)
          return new OutputFailed({ out: failed.out, detail: failed.detail, resume: resumeCommand })
        },
      })

    let state: SyncState = resuming
      ? { ...previous, status: "running" }
      : {
          v: 1,
          connectionId: record.id,
          stream: stream.id,
          params,
          status: "running",
          slices,
          slice: 0,
          position: firstPosition(stream.paging, carriedOver),
          records: 0,
          pages: 0,
          outputBytes: 0,
          partial: sink.partial,
          out: sink.describe,
          resumePoint: carriedOver,
          updatedAt: now.toISOString(),
          delivered,
          skipped: 0,
        }
    yield* store.putState(key, state)

    const policy = policyFor(definition.rateLimit, "sync")
    const pacing = new PacingKey(baseUrl.href, credentials)
    const hostSchedule = hostScheduleOf(definition.rateLimit.perHost, baseUrl)
    const placements = stream.auth ?? definition.auth
    const baseQuery = queryFor(stream, params)
    const success = pageCheck(stream)
    const cursorField = stream.incremental?.cursorField
    /**
     * A record's place for de-duplication: its cursor value, key and content hash (of `json`, the
     * record as the sink writes it); undefined when it has no cursor value.
     */
    const keyText = primaryKeyTexts(stream.primaryKey)
    const placeOf = (item: unknown, json: string): Place | undefined => {
      const fields = (item ?? {}) as Record<string, unknown>
      const value = cursorField ? fields[cursorField] : undefined
      if (!isCursorValue(value)) return undefined
      return new RecordPlace(value, fields, keyText, json)
    }
    let waits = 0
    let waitedMs = 0
    let total: number | undefined
    const sliceCount = slices?.length ?? 1
    const isoNow = () => new Date(clock.unsafeCurrentTimeMillis()).toISOString()

    /**
     * Who is at fault when a page fails. A rule may say it judges only this request. A failure that
     * would blame the user (the key, or the base URL) is checked against the connector's test
     * request first: when that passes, the key and URL work, and this request is at fault. Many
     * vendors answer 401 or 404 for an unknown view or form.
     */
    const judgeFailure = (page: number, verdict: Verdict) =>
      Effect.gen(function* () {
        if (verdict.scope === "request") return new SyncRequestRejected({ page, verdict, params })
        if (verdict.actor !== "user") {
          return new SyncFailed({ page, verdict, resume: resumeCommand, credentialsRejected: false })
        }
        const retest = yield* testCredentials(
          definition,
          { connectorId: definition.id, credentials: stored, settings: record.settings },
          { testRequestsOnly: true },
        )
        if (retest.verdict.outcome === "connected") {
          return new SyncRequestRejected({
            page,
            params,
            verdict: {
              ...verdict,
              scope: "request",
              reason: `${verdict.reason}; the test request passed`,
              message: `${definition.name} refused this request (HTTP ${verdict.httpStatus ?? "error"}), but the credentials and server pass the connector's test request: the fault is in this request.`,
              remediation: `Check the ${stream.id} stream's parameters (keyway streams ${definition.id}): an id that does not exist, or one the user may not see, is refused like this.`,
            },
          })
        }
        const credentialsRejected = retest.verdict.scope === "credential"
        return new SyncFailed({
          page,
          verdict: verdict.scope === "credential" || !credentialsRejected ? verdict : retest.verdict,
          resume: resumeCommand,
          credentialsRejected,
        })
      })

    /**
     * Records this sync's verdict on the connection, read afresh: credentials replaced while the sync
     * ran are neither overwritten nor judged by what the old ones met.
     */
    const markConnection = (verdict: Verdict) =>
      Effect.gen(function* () {
        const current = yield* store.get(record.id)
        if (!current || current.credentials.data !== record.credentials.data) return
        const at = isoNow()
        yield* store.put({ ...current, updatedAt: at, lastTest: { at, by: "sync", verdict } })
      })

    /** Where the sync is, for a progress line: after each page, and before each wait. */
    const report = (slice: DateSlice | undefined, waiting?: SyncProgress["waiting"]) =>
      request.onProgress?.({
        records: state.records,
        pages: state.pages,
        waits,
        waitedMs,
        total,
        slice: slice && slices ? slices.indexOf(slice) + 1 : 1,
        slices: sliceCount,
        window: slice,
        ...(waiting ? { waiting } : {}),
        elapsedMs: clock.unsafeCurrentTimeMillis() - started,
      })

    /**
     * One page's records as the sink gets them, each serialized once (for its content hash, and as
     * the sink writes it), less those an earlier run already delivered; and where the sync then
     * stands. Its records are let go here, before any wait (see the page loop).
     */
    const sortPage = (page: FetchedPage): SortedPage => {
      const records = page.takeRecords()
      let resumePoint = page.resumePoint ?? state.resumePoint
      const texts = records.map((item) => JSON.stringify(item))
      let fresh = texts
      let seen = state.seen
      if (cursorField) {
        fresh = []
        const places: Place[] = []
        records.forEach((item, i) => {
          const json = texts[i] as string
          const place = placeOf(item, json)
          if (place) {
            places.push(place)
            resumePoint = largest(resumePoint, place.value)
            if (isDelivered(delivered, place)) return
          }
          fresh.push(json)
        })
        seen = widen(seen, places)
      }
      return { next: page.next, fresh, skipped: records.length - fresh.length, resumePoint, seen }
    }

    // Pages asked for, counted as they are requested: the next page is fetched while one is still
    // being written, so the pages written so far do not say which one failed.
    let pagesRequested = state.pages
    /** One page: its records, and where the next one starts. */
    const fetchPage = (slice: DateSlice | undefined, position: Position) =>
      Effect.gen(function* () {
        const pageNumber = ++pagesRequested
        const paging = pageRequest(stream.paging, position)
        const literalQuery = {
          ...(slice && stream.dateRange ? sliceParams(stream.dateRange, slice) : {}),
          ...paging.query,
        }
        const posts = stream.body !== undefined || (stream.method ?? "GET") !== "GET"
        const built = buildRequest(
          {
            method: stream.method,
            path: stream.path,
            query: baseQuery,
            headers: stream.headers,
            ...(posts ? { body: stream.body ?? {} } : {}),
            literal: { query: literalQuery, ...(posts ? { body: paging.body } : {}) },
          },
          placements,
          { baseUrl, credentials, settings, params, now, headers: definition.headers },
        )
        if (Either.isLeft(built)) return yield* Effect.fail(built.left)
        // Each page has the whole sync budget for itself, waits included.
        const done = yield* engine.exchange(built.right, {
          policy,
          pacing,
          ...hostSchedule,
          findLimit: true,
          deadlineAt: clock.unsafeCurrentTimeMillis() + policy.budgetMs,
          sandbox: sandboxed,
          ...(request.onProgress ? { onWait: (waiting: SyncProgress["waiting"]) => report(slice, waiting) } : {}),
        })
        for (const attempt of done.attempts) {
          if (attempt.waitMs !== undefined) {
            waits++
            waitedMs += attempt.waitMs
          }
        }
        const verdict = classify(definition, done.observation, { success, secrets })
        if (verdict.outcome !== "connected" || done.observation.kind !== "response") {
          return yield* Effect.fail(yield* judgeFailure(pageNumber, verdict))
        }
        const json = done.observation.facts.json
        const records = recordsOf(stream, json) ?? []
        total = totalOf(stream.paging, json) ?? total
        const next = nextPosition(stream.paging, position, json, records.length)
        const resumePoint = resumePointOf(position, json, stream.paging)
        return new FetchedPage(records, next, resumePoint)
      })

    const writeOutcome = yield* Effect.either(
      Effect.gen(function* () {
        for (let index = state.slice; index < sliceCount; index++) {
          const slice = slices?.[index]
          const start = index === state.slice && state.position ? state.position : firstPosition(stream.paging)
          if (index === state.slice && !state.position) continue
          total = undefined
          // The next page is fetched while this one is written, and no further: one page in hand
          // and one on the way, so memory stays flat and the vendor's answer time hides ours.
          // Scoped: when the slice ends, or a write fails, a page still being fetched is not left running.
          yield* Effect.scoped(
            Effect.gen(function* () {
              let upcoming = yield* Effect.forkScoped(fetchPage(slice, start))
              for (;;) {
                // Only where the sync stands is kept across the waits for the write and the checkpoint.
                // Pages kept across them (the records through the fiber that fetched them, the texts
                // through the write's effect) outlived two young-generation collections and were
                // promoted, about 1.8 MB a page, and the old generation grew by some 45 MB between full
                // collections: hence the inner step, and the texts dropped once written.
                let sorted: SortedPage | undefined = yield* Effect.gen(function* () {
                  const page = yield* Fiber.join(upcoming)
                  if (page.next !== undefined) upcoming = yield* Effect.forkScoped(fetchPage(slice, page.next))
                  yield* nextTurn
                  return sortPage(page)
                })
                yield* onSink(() => sink.write(stream.id, sorted?.fresh ?? []))
                const { next, skipped, resumePoint, seen } = sorted
                const written = sorted.fresh.length
                sorted = undefined
                state = {
                  ...state,
                  slice: next === undefined ? index + 1 : index,
                  position: next ?? (index + 1 < sliceCount ? firstPosition(stream.paging) : undefined),
                  records: state.records + written,
                  skipped: (state.skipped ?? 0) + skipped,
                  pages: state.pages + 1,
                  outputBytes: sink.position(),
                  resumePoint,
                  ...(seen ? { seen } : {}),
                  updatedAt: isoNow(),
                }
                yield* store.putState(key, state)
                report(slice)
                if (next === undefined) break
              }
            }),
          )
        }
      }).pipe(Effect.onInterrupt(() => Effect.promise(() => sink.abort()))),
    )

    if (Either.isLeft(writeOutcome)) {
      const error = writeOutcome.left
      yield* store.putState(key, { ...state, status: "failed", error: error.message, updatedAt: isoNow() })
      yield* Effect.promise(() => sink.abort())
      if (error._tag === "SyncFailed" && error.credentialsRejected) {
        // Credentials rejected mid-sync: operators see it on the connection itself.
        yield* markConnection({ ...error.verdict, message: `credentials rejected during sync: ${error.message}` })
      }
      return yield* Effect.fail(error)
    }
    // Delivered from the moment the output is moved into place. A process killed in between leaves
    // `committing`, and the next run of this stream finishes the move before anything else.
    const finished: SyncState = {
      ...state,
      status: "committing",
      position: undefined,
      delivered: state.seen ? addSpan(delivered, state.seen) : delivered,
      updatedAt: isoNow(),
    }
    yield* store.putState(key, finished)
    // Not moved into place: the run stays resumable, its records not yet delivered, and a resume only moves it.
    yield* onSink(() => sink.commit()).pipe(
      Effect.tapError(() => store.putState(key, { ...state, status: "failed", updatedAt: isoNow() })),
    )
    state = { ...finished, status: "done", updatedAt: isoNow() }
    yield* store.putState(key, state)
    // The key worked for a whole sync: a failing mark from before is out of date.
    if (record.lastTest && record.lastTest.verdict.outcome !== "connected") {
      yield* markConnection({
        outcome: "connected",
        actor: "none",
        code: "connected",
        reason: "sync completed",
        message: `Connected: a sync of ${stream.id} completed.`,
        remediation: "Nothing to do.",
      })
    }
    return {
      connectionId: record.id,
      stream: stream.id,
      records: state.records,
      pages: state.pages,
      slices: sliceCount,
      waits,
      waitedMs,
      durationMs: Math.round(clock.unsafeCurrentTimeMillis() - started),
      resumed: resuming,
      resumePoint: state.resumePoint,
      out: sink.describe,
      skipped: state.skipped ?? 0,
    } satisfies SyncSummary
  })
