/**
 * The one retry engine, shared by save & test and by syncs. `decide` is the policy as a pure
 * function; `retrySchedule` wraps it in an Effect `Schedule`, so the time it waits is Effect's Clock
 * (virtual under `TestClock`) and its randomness is Effect's `Random` (seeded in tests).
 *
 * The engine (`runner/http/engine.ts`) only executes what this module decides: it steps the schedule
 * after a failed attempt and sleeps what the schedule says.
 *
 * Jitter only ever adds: the n-th retry waits at least the definition's first delay doubled n times
 * (up to its cap), plus a random part of up to as much again (still within the cap). Full jitter can
 * shrink a delay to almost nothing and hammer a vendor that just throttled us; a floor never goes
 * below what the definition and its docs page promise, while the random part still spreads clients.
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"
import { ENGINE_DEFAULTS } from "./defaults.ts"
import type { CustomWaitHeader, RateLimit } from "./definition.ts"
import { networkErrorFor } from "./network-errors.ts"
import type { RequestedWait, WaitSource } from "./rate-limit-headers.ts"

export interface RetryPolicy {
  /** First backoff delay, before jitter. */
  readonly baseDelayMs: number
  /** Cap on one backoff delay. A server's own wait header is not capped by this, only by the budget. */
  readonly maxDelayMs: number
  /** Attempts in all, the first included. */
  readonly maxAttempts: number
  /** The time a whole exchange may take, waits included: its deadline is this long after it starts. */
  readonly budgetMs: number
  /** Statuses worth retrying. */
  readonly retryStatuses: ReadonlySet<number>
  /** Wait headers the vendor sends under its own names, with their units. */
  readonly customWaitHeaders: ReadonlyArray<CustomWaitHeader>
}

/** Never retried, whatever a definition says: retrying a rejected key only locks accounts. */
export const NEVER_RETRIED = new Set([401, 403, 404])

const buildPolicy = (rateLimit: RateLimit, purpose: "saveAndTest" | "sync"): RetryPolicy => ({
  baseDelayMs: rateLimit.baseDelayMs,
  maxDelayMs: rateLimit.maxDelayMs,
  maxAttempts: rateLimit.maxAttempts,
  budgetMs:
    purpose === "saveAndTest"
      ? rateLimit.saveAndTestBudgetMs
      : (rateLimit.syncBudgetMs ?? ENGINE_DEFAULTS.retry.syncBudgetMs),
  retryStatuses: new Set(
    [...rateLimit.retryOn, ...(purpose === "sync" ? ENGINE_DEFAULTS.retry.syncAlsoRetries : [])].filter(
      (s) => !NEVER_RETRIED.has(s),
    ),
  ),
  customWaitHeaders: rateLimit.waitHeaders.flatMap((wait) => (typeof wait === "string" ? [] : [wait])),
})

/** Each definition's policies, built once: a check asked for its policy afresh each time. */
const built = new WeakMap<RateLimit, { saveAndTest?: RetryPolicy; sync?: RetryPolicy }>()

/** The retry policy for a definition's rate limit, for a save & test or a sync. */
export const policyFor = (rateLimit: RateLimit, purpose: "saveAndTest" | "sync"): RetryPolicy => {
  const policies = built.get(rateLimit) ?? {}
  if (!policies[purpose]) {
    policies[purpose] = buildPolicy(rateLimit, purpose)
    built.set(rateLimit, policies)
  }
  return policies[purpose]
}

/** What went wrong with one attempt, as the engine sees it: a status with its wait headers already read. */
export type AttemptFailure =
  | { readonly kind: "status"; readonly status: number; readonly wait: RequestedWait | undefined }
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
  /** When the exchange must be over, in ms; by default `budgetMs` after the first decision. */
  readonly deadlineAt?: number
}

export const isRetryable = (policy: RetryPolicy, failure: AttemptFailure): boolean =>
  failure.kind === "status"
    ? policy.retryStatuses.has(failure.status) && !NEVER_RETRIED.has(failure.status)
    : failure.readOnly && networkErrorFor(failure.code).retryable

/** The delay before this retry: the capped exponential floor, plus jitter from `random` in [0, 1). */
export const backoffDelay = (policy: RetryPolicy, retries: number, random: number): number => {
  const floor = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retries)
  const ceiling = Math.min(policy.maxDelayMs, 2 * floor)
  return Math.round(floor + random * (ceiling - floor))
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
  const asked = failure.kind === "status" ? failure.wait : undefined
  const delayMs = asked?.delayMs ?? backoffDelay(policy, state.retries, random)
  if (now + delayMs > (state.deadlineAt ?? now + policy.budgetMs)) {
    return { retry: false, reason: "budget_exceeded", retryAfterMs: delayMs }
  }
  if (state.retries + 1 >= policy.maxAttempts) {
    return { retry: false, reason: "attempts_exhausted", retryAfterMs: delayMs }
  }
  return { retry: true, delayMs, reason: asked?.source ?? "backoff" }
}

/**
 * The policy as a Schedule over attempt failures. Each step's output is the decision, so callers
 * can log it (`Schedule.tapOutput`, or a driver's output); the schedule stops as soon as a decision
 * says not to retry. Without `deadlineAt`, the deadline is `budgetMs` after the first failure.
 */
export const retrySchedule = <E>(
  policy: RetryPolicy,
  toFailure: (error: E) => AttemptFailure | undefined,
  deadlineAt?: number,
): Schedule.Schedule<Decision, E> =>
  Schedule.makeWithState<RetryState, E, Decision>(
    { retries: 0, ...(deadlineAt !== undefined ? { deadlineAt } : {}) },
    (now, error, state) =>
      Effect.map(Random.next, (random) => {
        const failure = toFailure(error)
        const bounded = { ...state, deadlineAt: state.deadlineAt ?? now + policy.budgetMs }
        const decision: Decision = failure
          ? decide(policy, failure, bounded, now, random)
          : { retry: false, reason: "not_retryable" }
        if (!decision.retry) return [bounded, decision, ScheduleDecision.done] as const
        const next = { ...bounded, retries: state.retries + 1 }
        return [next, decision, ScheduleDecision.continueWith(ScheduleInterval.after(now + decision.delayMs))] as const
      }),
  )
