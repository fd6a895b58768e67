/**
 * Real loopback HTTP under virtual time. The effect runs with a `TestClock`; whenever it is only
 * waiting on the clock (a retry wait, a pacing hold), virtual time jumps to the earliest such wait, so
 * a vendor's `Retry-After: 30` costs nothing real, while requests and responses still cross a real
 * socket in real time.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"

/** A real pause, for sockets to make progress while no virtual wait is pending. */
const realTick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * Runs `effect`, moving virtual time on to each wait as soon as one is pending. Needs a TestClock.
 * Virtual time starts at `startAt` (by default now), so a fake that stamps its wait headers with real
 * dates (an HTTP-date Retry-After, an epoch reset) asks for the wait it means.
 */
export const fastForward = <A, E, R>(effect: Effect.Effect<A, E, R>, startAt = Date.now()): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    yield* TestClock.setTime(startAt)
    const fiber = yield* Effect.fork(effect)
    for (;;) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done))
        return yield* Exit.matchEffect(done.value, { onFailure: Effect.failCause, onSuccess: Effect.succeed })
      const pending = [...(yield* TestClock.sleeps())]
      if (pending.length > 0) yield* TestClock.setTime(Math.min(...pending))
      else yield* realTick
    }
  })

/** `fastForward` with a TestClock of its own, for code that runs outside a test's Effect. */
export const inVirtualTime = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  fastForward(effect).pipe(Effect.provide(TestContext.TestContext))

/**
 * A clock on which every sleep moves time on at once, for one sequential flow with thousands of waits
 * (the pacing simulation). TestClock would do the same, but each advance waits in real time for every
 * fiber to settle (a few ms), which over 18,000 pacing holds is minutes. With one flow, skipping ahead
 * is exact: nothing else can run in the skipped time.
 */
export const skipAheadClock = (start = 0): Clock.Clock => {
  let now = start
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(Math.round(now * 1e6)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(now * 1e6))),
    sleep: (duration) =>
      Effect.sync(() => {
        now += Duration.toMillis(duration)
      }),
  }
}
