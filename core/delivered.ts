/**
 * What an incremental stream has delivered, so that syncs over overlapping windows send each record
 * once. A completed sync delivered every record whose cursor value lies between the smallest and the
 * largest it saw: a span. A later record whose value lies strictly inside a span was delivered. On a
 * span's edges, where many records may share one value, the keys delivered there decide, each with a
 * hash of its content: the same key with new content is an update (a day's totals filled in later),
 * and is sent again. Outside every span, a record is new.
 *
 * This rests on the promise `incremental.cursorField` makes: the field only grows, so the vendor adds
 * no record inside a span once it is delivered.
 */

export type CursorValue = string | number

export interface Edge {
  readonly value: CursorValue
  /** Record key (its primary key, as JSON) → hash of its content, for the records at this value. */
  readonly keys: Readonly<Record<string, string>>
}

export interface Span {
  readonly lo: Edge
  readonly hi: Edge
}

/** Keys kept per edge. Past it, further records at that value are not remembered and may be sent again. */
export const MAX_EDGE_KEYS = 10_000

/** Spans kept per stream. Past it, the lowest (oldest) spans are forgotten. */
export const MAX_SPANS = 50

export const isCursorValue = (value: unknown): value is CursorValue =>
  typeof value === "number" ? Number.isFinite(value) : typeof value === "string"

export const compareCursor = (a: CursorValue, b: CursorValue): number => {
  if (typeof a === "number" && typeof b === "number") return a - b
  const [x, y] = [String(a), String(b)]
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Whether a record was delivered by a span. Its key and hash are read only for a record at a span's
 * edge: a place may compute them on demand, since serializing and hashing every record of a page
 * cost more than the rest of a sync's own work.
 */
export const isDelivered = (spans: ReadonlyArray<Span>, place: Place): boolean =>
  spans.some((span) => {
    const fromLo = compareCursor(place.value, span.lo.value)
    const fromHi = compareCursor(place.value, span.hi.value)
    if (fromLo < 0 || fromHi > 0) return false
    if (fromLo > 0 && fromHi < 0) return true
    return (
      (fromLo === 0 && span.lo.keys[place.key] === place.hash) ||
      (fromHi === 0 && span.hi.keys[place.key] === place.hash)
    )
  })

/** One record's place: its cursor value, its key, and a hash of its content (both may be computed when read). */
export interface Place {
  readonly value: CursorValue
  readonly key: string
  readonly hash: string
}

/** Primary-key texts remembered by one `primaryKeyTexts`: past this many, the memo starts over. */
const MAX_KEY_TEXTS = 10_000

/**
 * A record's primary key as text (its values as a JSON array), remembered by the values themselves.
 * On a date cursor every record of a page may sit on a span's edge, and a page holds few distinct
 * keys (a day's users): looking the values up costs a fraction of writing each record's key out, and
 * the edge's map then meets the same string again. A value that is an object or an array is written
 * out each time, since it cannot be looked up by identity.
 */
export const primaryKeyTexts = (
  primaryKey: ReadonlyArray<string>,
): ((fields: Readonly<Record<string, unknown>>) => string) => {
  const written = (fields: Readonly<Record<string, unknown>>) =>
    JSON.stringify(primaryKey.map((field) => fields[field] ?? null))
  // Nested maps, one level per key field, the last holding the text.
  let memo = new Map<unknown, unknown>()
  let size = 0
  return (fields) => {
    let level = memo
    for (let i = 0; i < primaryKey.length; i++) {
      const value = fields[primaryKey[i] as string] ?? null
      if (typeof value === "object" && value !== null) return written(fields)
      const last = i === primaryKey.length - 1
      let next = level.get(value)
      if (next === undefined) {
        if (last) {
          if (size >= MAX_KEY_TEXTS) {
            memo = new Map()
            size = 0
            return written(fields)
          }
          size++
          next = written(fields)
        } else next = new Map<unknown, unknown>()
        level.set(value, next)
      }
      if (last) return next as string
      level = next as Map<unknown, unknown>
    }
    return written(fields)
  }
}

/** Whether two cursor values are the same place: `compareCursor(a, b) === 0`, without ordering them. */
const sameCursor = (a: CursorValue, b: CursorValue): boolean =>
  a === b || (typeof a !== typeof b && String(a) === String(b))

/** The edge at `value` after `places`: the old edge's keys when it was at that value, and the places there. */
const edgeAt = (value: CursorValue, old: Edge | undefined, places: ReadonlyArray<Place>): Edge => {
  // The last record with each key is the one whose hash counts: one map write per record at the
  // edge, and a hash only for the last of each key. On a date cursor most of a page sits on its
  // upper edge, so this loop is the price of exactly-once per record.
  const latest = new Map<string, Place>()
  for (const place of places) {
    if (sameCursor(place.value, value)) latest.set(place.key, place)
  }
  const kept = old !== undefined && sameCursor(old.value, value) ? old : undefined
  // A page with nothing at this edge leaves it as it was: copying up to MAX_EDGE_KEYS keys for
  // every page of a long sync was most of its time.
  if (latest.size === 0) return kept ?? { value, keys: {} }
  const keys: Record<string, string> = kept ? { ...kept.keys } : {}
  let count = kept ? Object.keys(keys).length : 0
  // In the order the keys first appeared: past MAX_EDGE_KEYS, the later ones are not remembered.
  for (const [key, place] of latest) {
    if (!(key in keys)) {
      if (count >= MAX_EDGE_KEYS) continue
      count++
    }
    keys[key] = place.hash
  }
  return { value, keys }
}

/** A span widened by a page of records. Edges are rebuilt once per page, not once per record. */
export const widen = (span: Span | undefined, places: ReadonlyArray<Place>): Span | undefined => {
  if (places.length === 0) return span
  let lo = span?.lo.value ?? places[0]?.value
  let hi = span?.hi.value ?? places[0]?.value
  if (lo === undefined || hi === undefined) return span
  for (const { value } of places) {
    if (compareCursor(value, lo) < 0) lo = value
    if (compareCursor(value, hi) > 0) hi = value
  }
  return { lo: edgeAt(lo, span?.lo, places), hi: edgeAt(hi, span?.hi, places) }
}

/** The lower of two edges; at the same value, their keys together (the newer hash wins). */
const lower = (a: Edge, b: Edge): Edge => {
  const order = compareCursor(a.value, b.value)
  return order < 0 ? a : order > 0 ? b : merged(a, b)
}
const higher = (a: Edge, b: Edge): Edge => {
  const order = compareCursor(a.value, b.value)
  return order > 0 ? a : order < 0 ? b : merged(a, b)
}
const merged = (older: Edge, newer: Edge): Edge =>
  edgeAt(
    older.value,
    older,
    Object.entries(newer.keys).map(([key, hash]) => ({ value: older.value, key, hash })),
  )

const overlaps = (a: Span, b: Span): boolean =>
  compareCursor(a.hi.value, b.lo.value) >= 0 && compareCursor(b.hi.value, a.lo.value) >= 0

/** The spans with a newly delivered one added: overlapping spans become one, and the list stays sorted. */
export const addSpan = (spans: ReadonlyArray<Span>, added: Span): ReadonlyArray<Span> => {
  let joined = added
  const apart: Span[] = []
  for (const span of spans) {
    if (overlaps(span, joined)) joined = { lo: lower(span.lo, joined.lo), hi: higher(span.hi, joined.hi) }
    else apart.push(span)
  }
  const sorted = [...apart, joined].sort((a, b) => compareCursor(a.lo.value, b.lo.value))
  return sorted.slice(Math.max(0, sorted.length - MAX_SPANS))
}

/** The largest value delivered: where a date-based incremental sync picks up. */
export const highWater = (spans: ReadonlyArray<Span>): CursorValue | undefined => spans.at(-1)?.hi.value
