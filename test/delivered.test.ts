/** De-duplication of incremental streams over overlapping windows: spans of delivered cursor values. */
import { describe, expect, it } from "vitest"
import {
  addSpan,
  highWater,
  isDelivered,
  MAX_EDGE_KEYS,
  MAX_SPANS,
  primaryKeyTexts,
  type Span,
  widen,
} from "../core/delivered.ts"

/** The span of a sync that saw these records, one page each: [cursor value, key, content hash]. */
const spanOf = (records: ReadonlyArray<readonly [string | number, string, string]>): Span => {
  let span: Span | undefined
  for (const [value, key, hash] of records) span = widen(span, [{ value, key, hash }])
  if (!span) throw new Error("no records")
  return span
}

describe("a delivered span", () => {
  const day1 = spanOf([
    ["2026-03-01T00:00:00Z", "1", "a"],
    ["2026-03-01T12:00:00Z", "2", "b"],
    ["2026-03-01T23:59:00Z", "3", "c"],
    ["2026-03-01T23:59:00Z", "4", "d"],
  ])

  it("holds what lies strictly inside it, whatever the key", () => {
    expect(isDelivered([day1], { value: "2026-03-01T06:00:00Z", key: "99", hash: "z" })).toBe(true)
  })

  it("holds, on its edges, only the keys delivered there with the same content", () => {
    expect(isDelivered([day1], { value: "2026-03-01T23:59:00Z", key: "3", hash: "c" })).toBe(true)
    expect(isDelivered([day1], { value: "2026-03-01T23:59:00Z", key: "4", hash: "d" })).toBe(true)
    // Another record at the same instant, and an update of a delivered one, are new.
    expect(isDelivered([day1], { value: "2026-03-01T23:59:00Z", key: "5", hash: "e" })).toBe(false)
    expect(isDelivered([day1], { value: "2026-03-01T23:59:00Z", key: "3", hash: "c2" })).toBe(false)
    expect(isDelivered([day1], { value: "2026-03-01T00:00:00Z", key: "1", hash: "a" })).toBe(true)
  })

  it("reads a record's key and hash only when it lies on an edge (a sync computes them on demand)", () => {
    const reads: string[] = []
    const place = (value: string, key: string, hash: string) => ({
      value,
      get key() {
        reads.push(`key ${value}`)
        return key
      },
      get hash() {
        reads.push(`hash ${value}`)
        return hash
      },
    })
    expect(isDelivered([day1], place("2026-03-01T06:00:00Z", "99", "z"))).toBe(true)
    expect(isDelivered([day1], place("2026-03-05T00:00:00Z", "99", "z"))).toBe(false)
    expect(reads).toEqual([])
    expect(isDelivered([day1], place("2026-03-01T23:59:00Z", "3", "c"))).toBe(true)
    expect(reads).toContain("key 2026-03-01T23:59:00Z")
    expect(reads).toContain("hash 2026-03-01T23:59:00Z")
  })

  it("does not hold what lies outside it", () => {
    expect(isDelivered([day1], { value: "2026-02-28T23:00:00Z", key: "0", hash: "y" })).toBe(false)
    expect(isDelivered([day1], { value: "2026-03-02T00:00:00Z", key: "3", hash: "c" })).toBe(false)
  })

  it("compares numbers as numbers", () => {
    const span = spanOf([
      [9, "a", "x"],
      [100, "b", "x"],
    ])
    expect(isDelivered([span], { value: 10, key: "z", hash: "x" })).toBe(true)
    expect(isDelivered([span], { value: 1000, key: "z", hash: "x" })).toBe(false)
  })

  it("on an edge, a key met twice in one page keeps the later record's hash, and hashes only that one", () => {
    const hashed: string[] = []
    const place = (value: number, key: string, hash: string) => ({
      value,
      key,
      get hash() {
        hashed.push(hash)
        return hash
      },
    })
    const span = widen(undefined, [place(7, "a", "old"), place(9, "a", "h1"), place(9, "b", "h2"), place(9, "a", "h3")])
    expect(span?.hi).toEqual({ value: 9, keys: { a: "h3", b: "h2" } })
    expect(span?.lo).toEqual({ value: 7, keys: { a: "old" } })
    expect(hashed.sort()).toEqual(["h2", "h3", "old"])
  })

  it("a string and a number that print alike are the same cursor value", () => {
    const span = widen(widen(undefined, [{ value: 5, key: "a", hash: "x" }]), [{ value: "5", key: "b", hash: "y" }])
    expect(span?.hi.keys).toEqual({ a: "x", b: "y" })
  })

  it("remembers a bounded number of keys per edge", () => {
    const page = Array.from({ length: MAX_EDGE_KEYS + 10 }, (_, i) => ({ value: 5, key: String(i), hash: "h" }))
    const span = widen(widen(undefined, page.slice(0, 5000)), page.slice(5000))
    expect(Object.keys(span?.hi.keys ?? {})).toHaveLength(MAX_EDGE_KEYS)
    expect(Object.keys(span?.lo.keys ?? {})).toHaveLength(MAX_EDGE_KEYS)
  })
})

describe("spans across syncs", () => {
  it("overlapping spans become one, with the edge keys of both", () => {
    const first = spanOf([
      [1, "a", "h"],
      [5, "b", "h"],
    ])
    const second = spanOf([
      [5, "c", "h"],
      [9, "d", "h"],
    ])
    const spans = addSpan([first], second)
    expect(spans).toHaveLength(1)
    expect(spans[0]?.lo.value).toBe(1)
    expect(spans[0]?.hi.value).toBe(9)
    expect(isDelivered(spans, { value: 5, key: "b", hash: "h" })).toBe(true) // inside now
    expect(highWater(spans)).toBe(9)
  })

  it("edges at the same value keep the keys of both", () => {
    const first = spanOf([
      [1, "a", "h"],
      [5, "b", "h"],
    ])
    const again = spanOf([
      [3, "x", "h"],
      [5, "c", "h"],
    ])
    const [joined] = addSpan([first], again)
    expect(Object.keys(joined?.hi.keys ?? {}).sort()).toEqual(["b", "c"])
  })

  it("disjoint spans stay apart, sorted, and the lowest are forgotten past the limit", () => {
    let spans: ReadonlyArray<Span> = []
    for (let i = MAX_SPANS + 5; i > 0; i--) spans = addSpan(spans, spanOf([[i * 10, "k", "h"]]))
    expect(spans).toHaveLength(MAX_SPANS)
    expect(spans[0]?.lo.value).toBe(60)
    expect(highWater(spans)).toBe((MAX_SPANS + 5) * 10)
    expect(isDelivered(spans, { value: 10, key: "k", hash: "h" })).toBe(false)
  })
})

describe("a record's primary key as text", () => {
  const records: ReadonlyArray<Record<string, unknown>> = [
    { date: "2026-03-01", userId: 7 },
    { date: "2026-03-01", userId: "7" },
    { date: 'say "hi"\n', userId: true },
    { date: null, userId: undefined },
    { userId: -0 },
    { date: Number.NaN, userId: 1.5e300 },
    { date: { nested: [1, "a"] }, userId: 7 },
    { date: ["x"], userId: 7 },
  ]

  it("is the key fields as a JSON array, the same text JSON.stringify writes, whatever the values", () => {
    const keyText = primaryKeyTexts(["date", "userId"])
    for (const fields of [...records, ...records]) {
      expect(keyText(fields)).toBe(JSON.stringify([fields.date ?? null, fields.userId ?? null]))
    }
    // 7 and "7" are different keys.
    expect(keyText(records[0] as Record<string, unknown>)).not.toBe(keyText(records[1] as Record<string, unknown>))
  })

  it("stays right past the number of texts it remembers", () => {
    const keyText = primaryKeyTexts(["id"])
    for (let round = 0; round < 2; round++) {
      for (let id = 0; id < 25_000; id += 7) expect(keyText({ id })).toBe(`[${id}]`)
    }
  })
})
