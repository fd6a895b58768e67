/**
 * The pacer, proved on the real engine: `pages` requests through the exchange engine, over a real
 * loopback socket, to the ActivTrak fake behind the sandbox's real token bucket, in virtual time.
 * The bucket reads the same virtual clock the engine sleeps on, so a run of minutes takes a second.
 * The result is the rate achieved against the bucket's physical maximum, and the share throttled.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { ENGINE_DEFAULTS } from "../../core/defaults.ts"
import { policyFor } from "../../core/retry.ts"
import { loadCatalog } from "../../runner/catalog/load-now.ts"
import { makeEngine, PacingKey } from "../../runner/http/engine.ts"
import { buildRequest } from "../../runner/http/request.ts"
import { makeAgents, makeTransport } from "../../runner/http/transport.ts"
import type { WaitMode } from "../../runner/sandbox/scenarios.ts"
import { startSandbox } from "../../runner/sandbox/server.ts"
import { skipAheadClock } from "./virtual-time.ts"

const activtrak = loadCatalog().get("activtrak")

export interface PacingResult {
  /** The bucket's physical minimum time for the run, over the time the run took. */
  readonly achievedFraction: number
  /** 429s over all requests sent. */
  readonly throttledShare: number
  readonly virtualSeconds: number
}

export const simulate = (
  mode: WaitMode,
  pages: number,
  perSecond: number,
  burst: number,
): Effect.Effect<PacingResult, Error> =>
  Effect.gen(function* () {
    if (!activtrak) return yield* Effect.fail(new Error("the ActivTrak definition did not load"))
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const sandbox = yield* Effect.acquireRelease(
      Effect.promise(() => startSandbox({ rateLimit: { perSecond, burst, mode }, now })),
      (started) => Effect.promise(() => started.stop()),
    )
    const agents = yield* Effect.acquireRelease(
      Effect.sync(() => makeAgents(ENGINE_DEFAULTS.transport)),
      (made) => Effect.promise(() => Promise.all([made.guarded.destroy(), made.sandbox.destroy()])),
    )
    const engine = makeEngine(makeTransport(agents, ENGINE_DEFAULTS.transport))
    const [test] = activtrak.test.requests
    const built = buildRequest(test ?? { path: "/" }, activtrak.auth, {
      baseUrl: new URL(sandbox.baseUrls.activtrak),
      credentials: { apiKey: Redacted.make("sandbox-valid") },
      settings: {},
      now: new Date(now()),
    })
    if (Either.isLeft(built)) return yield* Effect.fail(new Error(built.left.message))
    const policy = policyFor(activtrak.rateLimit, "sync")
    const started = now()
    for (let page = 0; page < pages; page++) {
      const { observation } = yield* engine.exchange(built.right, {
        policy,
        pacing: new PacingKey("simulation", {}),
        findLimit: true,
        deadlineAt: now() + policy.budgetMs,
        sandbox: true,
      })
      if (observation.kind !== "response" || observation.facts.status !== 200) {
        return yield* Effect.fail(new Error(`page ${page + 1} failed: ${JSON.stringify(observation.kind)}`))
      }
    }
    const elapsed = now() - started
    const throttled = sandbox.state.statusCounts.get(429) ?? 0
    const sent = [...sandbox.state.statusCounts.values()].reduce((sum, count) => sum + count, 0)
    return {
      achievedFraction: (((pages - burst) / perSecond) * 1000) / elapsed,
      throttledShare: throttled / sent,
      virtualSeconds: elapsed / 1000,
    }
  }).pipe(Effect.scoped, Effect.withClock(skipAheadClock()))
