/**
 * The one retry engine, shared by save & test and by syncs. `decide` is the policy as a pure
 * function; `retrySchedule` wraps it in an Effect `Schedule`, so the time it waits is Effect's Clock
 * (virtual under `TestClock`) and its randomness is Effect's `Random` (seeded in tests).
 *
 * Jitter is "equal jitter": half the exponential delay is fixed, half random. Full jitter can
 * shrink a delay to almost nothing and hammer a vendor that just throttled us; equal jitter keeps
 * a floor of half the backoff while still spreading clients apart.
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"
import type { RateLimit } from "./definition.ts"
import { type HeaderLookup, requestedWait, type WaitSource } from "./rate-limit-headers.ts"

export interface RetryPolicy {
  /** First backoff delay, before jitter. */
  readonly baseDelayMs: number
  /** Cap on one backoff delay. A server's own wait header is not capped by this, only by the budget. */
  readonly maxDelayMs: number
  /** Attempts in all, the first included. */
  readonly maxAttempts: number
  /** Cap on the total time spent waiting between attempts. */
  readonly budgetMs: number
  /** Statuses worth retrying. */
  readonly retryStatuses: ReadonlySet<number>
}

/** Never retried, whatever a definition says: retrying a rejected key only locks accounts. */
export const NEVER_RETRIED = new Set([401, 403, 404])

/** Network failures worth retrying, for read-only requests only. */
export const RETRYABLE_NETWORK_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "ECONNREFUSED"])

export const policyFor = (rateLimit: RateLimit, purpose: "saveAndTest" | "sync"): RetryPolicy => ({
  baseDelayMs: rateLimit.baseDelayMs,
  maxDelayMs: rateLimit.maxDelayMs,
  maxAttempts: rateLimit.maxAttempts,
  budgetMs: purpose === "saveAndTest" ? rateLimit.saveAndTestBudgetMs : (rateLimit.syncBudgetMs ?? 300_000),
  // A sync also retries other server errors: it can resume, but a blip should not stop a long pull.
  retryStatuses: new Set(
    [...rateLimit.retryOn, ...(purpose === "sync" ? [500, 502, 503, 504] : [])].filter((s) => !NEVER_RETRIED.has(s)),
  ),
})

/** What went wrong with one attempt, as the engine sees it. */
export type AttemptFailure =
  | { readonly kind: "status"; readonly status: number; readonly header: HeaderLookup }
  | { readonly kind: "network"; readonly code: string; readonly readOnly: boolean }

export type DelayReason = WaitSource | "backoff"

export type Decision =
  | { readonly retry: true; readonly delayMs: number; readonly reason: DelayReason }
  | {
      readonly retry: false
      readonly reason: "not_retryable" | "attempts_exhausted" | "budget_exceeded"
      /** When the budget stopped us: how long the vendor (or the backoff) wanted us to wait. */
      readonly retryAfterMs?: number
    }

export interface RetryState {
  /** Retries made so far (0 before the first retry). */
  readonly retries: number
  readonly waitedMs: number
}

export const isRetryable = (policy: RetryPolicy, failure: AttemptFailure): boolean =>
  failure.kind === "status"
    ? policy.retryStatuses.has(failure.status) && !NEVER_RETRIED.has(failure.status)
    : failure.readOnly && RETRYABLE_NETWORK_CODES.has(failure.code)

/** The exponential delay for this retry, capped, with equal jitter from `random` in [0, 1). */
export const backoffDelay = (policy: RetryPolicy, retries: number, random: number): number => {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retries)
  return Math.round(exponential / 2 + (random * exponential) / 2)
}

/** The policy as a pure function of the failure, the state so far, the clock and a random number. */
export const decide = (
  policy: RetryPolicy,
  failure: AttemptFailure,
  state: RetryState,
  now: number,
  random: number,
): Decision => {
  if (!isRetryable(policy, failure)) return { retry: false, reason: "not_retryable" }
  const asked = failure.kind === "status" ? requestedWait(failure.header, now) : undefined
  const delayMs = asked?.delayMs ?? backoffDelay(policy, state.retries, random)
  if (state.waitedMs + delayMs > policy.budgetMs) {
    return { retry: false, reason: "budget_exceeded", retryAfterMs: delayMs }
  }
  if (state.retries + 1 >= policy.maxAttempts) {
    return { retry: false, reason: "attempts_exhausted", retryAfterMs: delayMs }
  }
  return { retry: true, delayMs, reason: asked?.source ?? "backoff" }
}

/**
 * The policy as a Schedule over attempt failures. Each step's output is the decision, so callers
 * can log it (`Schedule.tapOutput`); the schedule stops as soon as a decision says not to retry.
 */
export const retrySchedule = <E>(
  policy: RetryPolicy,
  toFailure: (error: E) => AttemptFailure | undefined,
): Schedule.Schedule<Decision, E> =>
  Schedule.makeWithState<RetryState, E, Decision>({ retries: 0, waitedMs: 0 }, (now, error, state) =>
    Effect.map(Random.next, (random) => {
      const failure = toFailure(error)
      const decision: Decision = failure
        ? decide(policy, failure, state, now, random)
        : { retry: false, reason: "not_retryable" }
      if (!decision.retry) return [state, decision, ScheduleDecision.done] as const
      const next = { retries: state.retries + 1, waitedMs: state.waitedMs + decision.delayMs }
      return [next, decision, ScheduleDecision.continueWith(ScheduleInterval.after(now + decision.delayMs))] as const
    }),
  )
