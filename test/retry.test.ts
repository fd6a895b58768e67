import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import fc from "fast-check"
import { MAX_HEADER_WAIT_MS, requestedWait } from "../core/rate-limit-headers.ts"
import {
  type AttemptFailure,
  backoffDelay,
  type Decision,
  decide,
  type RetryPolicy,
  retrySchedule,
} from "../core/retry.ts"

const NOW = Date.parse("2026-11-24T12:00:00Z")
const headers =
  (record: Record<string, string>) =>
  (name: string): string | undefined =>
    record[name.toLowerCase()]
/** A 429 as the engine hands it to the decision: its wait headers already read, at `NOW`. */
const throttled = (record: Record<string, string> = {}): AttemptFailure => ({
  kind: "status",
  status: 429,
  wait: requestedWait(headers(record), NOW),
})

const POLICY: RetryPolicy = {
  baseDelayMs: 1000,
  maxDelayMs: 8000,
  maxAttempts: 6,
  budgetMs: 60_000,
  retryStatuses: new Set([429, 503, 401]),
  customWaitHeaders: [],
}

describe("wait headers", () => {
  it("Retry-After in delta-seconds", () => {
    expect(requestedWait(headers({ "retry-after": "7" }), NOW)).toEqual({
      delayMs: 7000,
      source: "retry-after-seconds",
    })
  })

  it("Retry-After as an HTTP-date waits until that date", () => {
    const date = new Date(NOW + 12_000).toUTCString()
    expect(requestedWait(headers({ "retry-after": date }), NOW)).toEqual({
      delayMs: 12_000,
      source: "retry-after-date",
    })
    const past = new Date(NOW - 5000).toUTCString()
    expect(requestedWait(headers({ "retry-after": past }), NOW)).toEqual({ delayMs: 0, source: "retry-after-date" })
  })

  it("X-RateLimit-Reset as epoch seconds, epoch milliseconds, or seconds to wait", () => {
    expect(requestedWait(headers({ "x-ratelimit-reset": String(NOW / 1000 + 30) }), NOW)).toEqual({
      delayMs: 30_000,
      source: "x-ratelimit-reset-epoch",
    })
    expect(requestedWait(headers({ "x-ratelimit-reset": String(NOW + 4500) }), NOW)).toEqual({
      delayMs: 4500,
      source: "x-ratelimit-reset-epoch",
    })
    expect(requestedWait(headers({ "x-ratelimit-reset": "20" }), NOW)).toEqual({
      delayMs: 20_000,
      source: "x-ratelimit-reset-delta",
    })
  })

  it("the IETF RateLimit field: an exhausted policy's reset, the longest of several", () => {
    expect(requestedWait(headers({ ratelimit: '"default";r=0;t=5' }), NOW)).toEqual({
      delayMs: 5000,
      source: "ratelimit",
    })
    expect(requestedWait(headers({ ratelimit: '"burst";r=0;t=1, "day";r=0;t=90' }), NOW)?.delayMs).toBe(90_000)
    expect(requestedWait(headers({ ratelimit: '"default";r=10;t=5' }), NOW)).toBeUndefined()
    expect(requestedWait(headers({ "ratelimit-remaining": "0", "ratelimit-reset": "3" }), NOW)).toEqual({
      delayMs: 3000,
      source: "ratelimit-reset",
    })
  })

  it("several limits at once: the strictest (longest) wait wins", () => {
    const wait = requestedWait(
      headers({ "retry-after": "2", "x-ratelimit-reset": "40", ratelimit: '"default";r=0;t=9' }),
      NOW,
    )
    expect(wait).toEqual({ delayMs: 40_000, source: "x-ratelimit-reset-delta" })
  })

  it("ignores garbage and clamps absurd waits", () => {
    for (const value of ["", "soon", "-5", "1e9999", "2026-11-24T12:00:10Z", "12abc"]) {
      expect(requestedWait(headers({ "retry-after": value }), NOW)).toBeUndefined()
    }
    expect(requestedWait(headers({ "retry-after": "99999999999" }), NOW)?.delayMs).toBe(MAX_HEADER_WAIT_MS)
  })

  it("property: any header values give no delay, or a non-negative delay no longer than a day", () => {
    const names = fc.constantFrom(
      "retry-after",
      "x-ratelimit-reset",
      "ratelimit",
      "ratelimit-reset",
      "ratelimit-remaining",
    )
    const values = fc.oneof(
      fc.string(),
      fc.integer().map(String),
      fc.double().map(String),
      fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
      fc.tuple(fc.nat(), fc.nat()).map(([r, t]) => `"p";r=${r};t=${t}`),
    )
    fc.assert(
      fc.property(fc.dictionary(names, values), fc.integer({ min: 0, max: 4_102_444_800_000 }), (record, now) => {
        const wait = requestedWait(headers(record), now)
        return (
          wait === undefined ||
          (wait.delayMs >= 0 && wait.delayMs <= MAX_HEADER_WAIT_MS && Number.isInteger(wait.delayMs))
        )
      }),
      { numRuns: 2000 },
    )
  })
})

describe("the retry decision", () => {
  it("never retries 401, 403 or 404, even when a definition lists them", () => {
    for (const status of [401, 403, 404]) {
      const failure: AttemptFailure = {
        kind: "status",
        status,
        wait: requestedWait(headers({ "retry-after": "1" }), NOW),
      }
      expect(decide(POLICY, failure, { retries: 0 }, NOW, 0.5)).toEqual({
        retry: false,
        reason: "not_retryable",
      })
    }
  })

  it("retries a connection reset only for a read-only request", () => {
    const state = { retries: 0 }
    expect(decide(POLICY, { kind: "network", code: "ECONNRESET", readOnly: true }, state, NOW, 0).retry).toBe(true)
    expect(decide(POLICY, { kind: "network", code: "ECONNRESET", readOnly: false }, state, NOW, 0).retry).toBe(false)
    expect(
      decide(POLICY, { kind: "network", code: "UND_ERR_HEADERS_TIMEOUT", readOnly: true }, state, NOW, 0).retry,
    ).toBe(false)
  })

  it("never waits less than the declared delay doubled per retry: jitter only adds, within the cap", () => {
    expect([0, 1, 2, 3, 4].map((retries) => backoffDelay(POLICY, retries, 0))).toEqual([1000, 2000, 4000, 8000, 8000])
    expect([0, 1, 2, 3, 4].map((retries) => backoffDelay(POLICY, retries, 0.999_999))).toEqual([
      2000, 4000, 8000, 8000, 8000,
    ])
  })

  it("stops at once when the vendor asks for more than the budget, and says how long", () => {
    expect(decide(POLICY, throttled({ "retry-after": "3600" }), { retries: 0 }, NOW, 0.5)).toEqual({
      retry: false,
      reason: "budget_exceeded",
      retryAfterMs: 3_600_000,
    })
  })
})

/** Runs `failures` in order, then succeeds; records when each attempt ran and each decision. */
const drive = (policy: RetryPolicy, failures: ReadonlyArray<AttemptFailure>) =>
  Effect.gen(function* () {
    const attemptsAt: number[] = []
    const decisions: Decision[] = []
    const start = yield* Clock.currentTimeMillis
    const attempt = Effect.gen(function* () {
      attemptsAt.push((yield* Clock.currentTimeMillis) - start)
      const failure = failures[attemptsAt.length - 1]
      return failure ? yield* Effect.fail(failure) : "ok"
    })
    const schedule = retrySchedule(policy, (failure: AttemptFailure) => failure).pipe(
      Schedule.tapOutput((decision) => Effect.sync(() => decisions.push(decision))),
    )
    const fiber = yield* Effect.fork(Effect.either(Effect.retry(attempt, schedule)))
    yield* TestClock.adjust("1 hour")
    const result = yield* Fiber.join(fiber)
    return { result, attemptsAt, decisions }
  })

describe("the retry schedule, in virtual time", () => {
  it.effect("429 with Retry-After in seconds waits exactly that long each time", () =>
    Effect.gen(function* () {
      const { result, attemptsAt } = yield* drive(POLICY, [
        throttled({ "retry-after": "2" }),
        throttled({ "retry-after": "3" }),
      ])
      expect(Either.isRight(result)).toBe(true)
      expect(attemptsAt).toEqual([0, 2000, 5000])
    }),
  )

  it.effect("429 with an HTTP-date Retry-After waits until that date", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const { attemptsAt, decisions } = yield* drive(POLICY, [
        throttled({ "retry-after": new Date(NOW + 9000).toUTCString() }),
      ])
      expect(attemptsAt).toEqual([0, 9000])
      expect(decisions[0]).toEqual({ retry: true, delayMs: 9000, reason: "retry-after-date" })
    }),
  )

  it.effect("X-RateLimit-Reset as epoch seconds waits until that moment", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const { attemptsAt } = yield* drive(POLICY, [throttled({ "x-ratelimit-reset": String(NOW / 1000 + 4) })])
      expect(attemptsAt).toEqual([0, 4000])
    }),
  )

  it.effect("the IETF RateLimit field sets the delay", () =>
    Effect.gen(function* () {
      const { attemptsAt, decisions } = yield* drive(POLICY, [throttled({ ratelimit: '"default";r=0;t=6' })])
      expect(attemptsAt).toEqual([0, 6000])
      expect(decisions[0]?.reason).toBe("ratelimit")
    }),
  )

  it.effect("with no header, backs off exponentially with equal jitter from the seeded Random", () =>
    Effect.gen(function* () {
      const failures = Array.from({ length: 5 }, () => throttled())
      const { attemptsAt, decisions } = yield* drive(POLICY, failures).pipe(Effect.withRandom(Random.make("keyway")))
      // The same seed gives the same random numbers, so the exact delays can be recomputed.
      const replay = Random.make("keyway")
      const expected: number[] = []
      for (let retries = 0; retries < 5; retries++) {
        expected.push(backoffDelay(POLICY, retries, yield* replay.next))
      }
      expect(decisions.flatMap((d) => (d.retry ? [d.delayMs] : []))).toEqual(expected)
      const expectedAt = [0]
      for (const delay of expected) expectedAt.push((expectedAt.at(-1) ?? 0) + delay)
      expect(attemptsAt).toEqual(expectedAt)
      expect(decisions.every((d) => d.retry && d.reason === "backoff")).toBe(true)
    }),
  )

  it.effect("gives up after maxAttempts attempts in all", () =>
    Effect.gen(function* () {
      const failures = Array.from({ length: 10 }, () => throttled({ "retry-after": "1" }))
      const { result, attemptsAt, decisions } = yield* drive(POLICY, failures)
      expect(Either.isLeft(result)).toBe(true)
      expect(attemptsAt).toHaveLength(6)
      expect(decisions.at(-1)).toEqual({ retry: false, reason: "attempts_exhausted", retryAfterMs: 1000 })
    }),
  )

  it.effect("a wait beyond the budget is not slept: the last failure comes back at once", () =>
    Effect.gen(function* () {
      const { result, attemptsAt, decisions } = yield* drive({ ...POLICY, budgetMs: 10_000 }, [
        throttled({ "retry-after": "4" }),
        throttled({ "retry-after": "120" }),
      ])
      expect(Either.isLeft(result)).toBe(true)
      expect(attemptsAt).toEqual([0, 4000])
      expect(decisions.at(-1)).toEqual({ retry: false, reason: "budget_exceeded", retryAfterMs: 120_000 })
    }),
  )

  it.effect("interrupting a wait stops it at once, with no further attempt", () =>
    Effect.gen(function* () {
      let attempts = 0
      const attempt = Effect.suspend(() => {
        attempts++
        return Effect.fail(throttled({ "retry-after": "30" }))
      })
      const fiber = yield* Effect.fork(
        Effect.retry(
          attempt,
          retrySchedule(POLICY, (f: AttemptFailure) => f),
        ),
      )
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 hour")
      expect(attempts).toBe(1)
    }),
  )
})
