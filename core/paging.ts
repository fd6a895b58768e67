/**
 * The paging kinds, as pure functions: what a page's request carries, where its records are, and
 * where the next page starts (or that this was the last). The sync runner does the I/O.
 */
import type { Paging, ReportStream } from "./definition.ts"
import { select } from "./json-path.ts"

/** Where the next page starts. Saved in checkpoints, so it is plain JSON. */
export type Position =
  | { readonly kind: "none" }
  | { readonly kind: "page"; readonly page: number }
  | { readonly kind: "offset"; readonly offset: number }
  | { readonly kind: "cursor"; readonly cursor: string | undefined }
  | { readonly kind: "window"; readonly offset: number }
  | { readonly kind: "feed"; readonly start: number | string | undefined }

export const firstPosition = (paging: Paging, resumeFrom?: string | number): Position => {
  switch (paging.kind) {
    case "none":
      return { kind: "none" }
    case "page":
      return { kind: "page", page: paging.firstPage ?? 1 }
    case "offset":
      return { kind: "offset", offset: paging.firstOffset ?? 0 }
    case "cursor":
      return { kind: "cursor", cursor: typeof resumeFrom === "string" ? resumeFrom : undefined }
    case "window":
      return { kind: "window", offset: 0 }
    case "feed":
      return { kind: "feed", start: resumeFrom }
  }
}

export interface PageRequest {
  readonly query: Readonly<Record<string, string>>
  readonly body: Readonly<Record<string, unknown>>
}

/** The query parameters and body fields this position adds to the stream's own request. */
export const pageRequest = (paging: Paging, position: Position): PageRequest => {
  if (paging.kind === "page" && position.kind === "page") {
    return { query: { [paging.pageParam]: String(position.page), [paging.sizeParam]: String(paging.size) }, body: {} }
  }
  if (paging.kind === "offset" && position.kind === "offset") {
    return {
      query: { [paging.offsetParam]: String(position.offset), [paging.limitParam]: String(paging.limit) },
      body: {},
    }
  }
  if (paging.kind === "cursor" && position.kind === "cursor") {
    return {
      query: {
        ...(paging.sizeParam && paging.size ? { [paging.sizeParam]: String(paging.size) } : {}),
        ...(position.cursor ? { [paging.cursorParam]: position.cursor } : {}),
      },
      body: {},
    }
  }
  if (paging.kind === "window" && position.kind === "window") {
    return { query: {}, body: { [paging.windowField]: [position.offset, paging.limit] } }
  }
  if (paging.kind === "feed" && position.kind === "feed") {
    return { query: {}, body: position.start === undefined ? {} : { [paging.startField]: position.start } }
  }
  return { query: {}, body: {} }
}

/** Whether a body is a column set at all. */
export const isColumnSet = (body: unknown): boolean =>
  typeof body === "object" &&
  body !== null &&
  typeof (body as { columns?: unknown }).columns === "object" &&
  (body as { columns?: unknown }).columns !== null

/** A column set (`{columns: {id: {storage, values | value}}, rows}`) as row objects. */
export const columnSetRows = (body: unknown): Array<Record<string, unknown>> | undefined => {
  const set = body as {
    rows?: unknown
    columns?: Record<string, { storage?: string; values?: unknown[]; value?: unknown }>
  }
  if (!set || typeof set !== "object" || typeof set.columns !== "object" || set.columns === null) return undefined
  const columns = Object.entries(set.columns)
  const rowCount =
    typeof set.rows === "number"
      ? set.rows
      : Math.max(0, ...columns.map(([, c]) => (Array.isArray(c.values) ? c.values.length : 0)))
  return Array.from({ length: rowCount }, (_, row) => {
    const record: Record<string, unknown> = {}
    for (const [id, column] of columns) {
      record[id] =
        column.storage === "array"
          ? (column.values?.[row] ?? null)
          : column.storage === "constant"
            ? column.value
            : null
    }
    return record
  })
}

/** The records of one response body, or undefined when they are not where the stream says. */
export const recordsOf = (stream: ReportStream, body: unknown): ReadonlyArray<unknown> | undefined => {
  if (stream.columnSet) return columnSetRows(body)
  for (const path of [stream.records, stream.recordsFallback]) {
    if (path === undefined) continue
    const [found] = select(body, path)
    if (Array.isArray(found)) return found
  }
  return undefined
}

const numberAt = (body: unknown, path: string | undefined): number | undefined => {
  if (!path) return undefined
  const [value] = select(body, path)
  return typeof value === "number"
    ? value
    : typeof value === "string" && /^\d+$/.test(value)
      ? Number(value)
      : undefined
}

/** The total the response reports, when the paging kind has one: for progress and ETA. */
export const totalOf = (paging: Paging, body: unknown): number | undefined =>
  paging.kind === "page" || paging.kind === "offset" || paging.kind === "window"
    ? numberAt(body, paging.totalPath)
    : undefined

/** Where the next page starts, or `undefined` when this page was the last. */
export const nextPosition = (
  paging: Paging,
  position: Position,
  body: unknown,
  recordCount: number,
): Position | undefined => {
  switch (position.kind) {
    case "none":
      return undefined
    case "page": {
      if (paging.kind !== "page" || recordCount === 0) return undefined
      const total = numberAt(body, paging.totalPath)
      const firstPage = paging.firstPage ?? 1
      const seen = (position.page - firstPage + 1) * paging.size
      if (total !== undefined ? seen >= total : recordCount < paging.size) return undefined
      return { kind: "page", page: position.page + 1 }
    }
    case "offset": {
      if (paging.kind !== "offset" || recordCount === 0) return undefined
      const total = numberAt(body, paging.totalPath)
      const next = position.offset + recordCount
      const consumed = next - (paging.firstOffset ?? 0)
      if (total !== undefined ? consumed >= total : recordCount < paging.limit) return undefined
      return { kind: "offset", offset: next }
    }
    case "window": {
      if (paging.kind !== "window" || recordCount === 0) return undefined
      const total = numberAt(body, paging.totalPath)
      const next = position.offset + recordCount
      return total !== undefined && next >= total ? undefined : { kind: "window", offset: next }
    }
    case "cursor": {
      if (paging.kind !== "cursor") return undefined
      const [cursor] = select(body, paging.cursorPath)
      // An empty page, or one handing back the same cursor, means caught up.
      if (recordCount === 0 || typeof cursor !== "string" || cursor === "" || cursor === position.cursor)
        return undefined
      return { kind: "cursor", cursor }
    }
    case "feed": {
      if (paging.kind !== "feed") return undefined
      const [more] = select(body, paging.morePath)
      const [next] = select(body, paging.nextPath)
      if (more !== true || (typeof next !== "number" && typeof next !== "string") || next === position.start)
        return undefined
      return { kind: "feed", start: next }
    }
  }
}

/** Where an incremental stream's next sync should pick up, from the final position. */
export const resumePointOf = (position: Position, body: unknown, paging: Paging): string | number | undefined => {
  if (paging.kind === "cursor") {
    const [cursor] = select(body, paging.cursorPath)
    return typeof cursor === "string" && cursor !== ""
      ? cursor
      : position.kind === "cursor"
        ? position.cursor
        : undefined
  }
  if (paging.kind === "feed") {
    const [next] = select(body, paging.nextPath)
    return typeof next === "number" || typeof next === "string"
      ? next
      : position.kind === "feed"
        ? position.start
        : undefined
  }
  return undefined
}

export interface DateSlice {
  /** Inclusive start, YYYY-MM-DD. */
  readonly from: string
  /** Inclusive end, YYYY-MM-DD. */
  readonly to: string
}

const DAY_MS = 86_400_000

/** Splits an inclusive date range into windows of at most `maxDays` days. */
export const dateSlices = (from: string, to: string, maxDays: number | undefined): DateSlice[] => {
  const start = Date.parse(`${from}T00:00:00Z`)
  const end = Date.parse(`${to}T00:00:00Z`)
  if (Number.isNaN(start) || Number.isNaN(end) || end < start) return []
  if (!maxDays) return [{ from, to }]
  const slices: DateSlice[] = []
  for (let at = start; at <= end; at += maxDays * DAY_MS) {
    const sliceEnd = Math.min(end, at + (maxDays - 1) * DAY_MS)
    slices.push({ from: new Date(at).toISOString().slice(0, 10), to: new Date(sliceEnd).toISOString().slice(0, 10) })
  }
  return slices
}

/** A slice's bounds in the stream's date format; an exclusive `to` is moved one day on. */
export const sliceParams = (
  range: NonNullable<ReportStream["dateRange"]>,
  slice: DateSlice,
): Readonly<Record<string, string>> => {
  const toDay = Date.parse(`${slice.to}T00:00:00Z`) + (range.toInclusive ? 0 : DAY_MS)
  const fromDay = Date.parse(`${slice.from}T00:00:00Z`)
  const format = (ms: number, end: boolean) =>
    range.format === "date"
      ? new Date(ms).toISOString().slice(0, 10)
      : range.format === "datetime"
        ? new Date(end && range.toInclusive ? ms + DAY_MS - 1 : ms).toISOString()
        : String(end && range.toInclusive ? ms + DAY_MS - 1 : ms)
  return { [range.fromParam]: format(fromDay, false), [range.toParam]: format(toDay, true) }
}
