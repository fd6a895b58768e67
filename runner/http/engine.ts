/**
 * The one exchange engine. Save & test's requests, its probes and every sync page go through
 * `exchange`, which sends one request under:
 * - pacing: one pacer per credential and base URL, shared by every exchange of this engine;
 * - one deadline: connecting, headers, body, retries and pacing holds all end by `deadlineAt`;
 * - the retry policy: `core/retry.ts` decides, this module only executes. The schedule is built
 *   only after a failed attempt, so a request that succeeds first time pays nothing for it;
 * - the body cap and timeouts of the transport;
 * - the attempt log: every attempt, and every wait with its length and what set it.
 *
 * Whatever happens comes back as an `Observation` for the one classifier; the engine never fails.
 */
import { hash } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import { type Observation, type RetryStop, responseObservation } from "../../core/classify.ts"
import { ENGINE_DEFAULTS } from "../../core/defaults.ts"
import { isTimeout, type NetworkProblem, networkErrorFor } from "../../core/network-errors.ts"
import { type HostSchedule, HostSlots, type Pacer, PacerRegistry, pacerKey } from "../../core/pacer.ts"
import {
  headerLookup,
  type RateLimitFacts,
  readRateLimitHeaders,
  type WaitSource,
} from "../../core/rate-limit-headers.ts"
import { type AttemptFailure, type DelayReason, type RetryPolicy, retrySchedule } from "../../core/retry.ts"
import { RetryQuota } from "../../core/retry-quota.ts"
import { describeRequest, type OutgoingRequest } from "./request.ts"
import { type HttpResult, HttpTransport, type Outcome, type SendOptions, type Transport } from "./transport.ts"

export interface Attempt {
  /** `GET /path`: never the query string, which may hold a key. */
  readonly request: string
  readonly status?: number
  readonly error?: NetworkProblem | "time_up"
  /** A pacing hold before this attempt was sent, and what set it. */
  readonly heldMs?: number
  readonly heldBy?: WaitSource | "pace"
  /** The wait before the next attempt, and what set it. */
  readonly waitMs?: number
  readonly waitSetBy?: DelayReason
}

export interface ExchangePlan {
  readonly policy: RetryPolicy
  /** The pace this request shares (`PacingKey`); undefined sends it unpaced. */
  readonly pacing: PacingKey | undefined
  /** The vendor host's stated limit for all keys together, when the definition states one. */
  readonly hostSchedule?: HostSchedule
  /**
   * Pace this key even before its limit is known (a slow start): a sync's many requests would find
   * the limit by running into it. A check's few requests go unpaced until a limit is stated or seen.
   */
  readonly findLimit?: boolean
  /** When everything must be over, in ms by Effect's Clock. */
  readonly deadlineAt: number
  /** The caller's cancellation, when it has one; interruption works without it. */
  readonly signal?: AbortSignal
  /** The request goes to the loopback sandbox, which only the sandbox may reach. */
  readonly sandbox?: boolean
  /** Told before each wait (a pacing hold, or a retry's backoff or the vendor's wait): for progress lines. */
  readonly onWait?: (wait: { readonly ms: number; readonly setBy: string }) => void
}

export interface Exchanged {
  readonly observation: Observation
  readonly attempts: ReadonlyArray<Attempt>
}

/** How plain code runs the engine's Effects and reads the time: on its caller's runtime and Clock. */
export interface EffectRunner {
  readonly run: <A>(effect: Effect.Effect<A>, signal?: AbortSignal) => Promise<A>
  readonly now: () => number
}

/** Runs Effects on `runtime`, rejecting with the failure itself (an interruption included), not a wrapper. */
export const effectRunner = (runtime: Runtime.Runtime<never>, now: () => number): EffectRunner => ({
  now,
  run: async (effect, signal) => {
    const exit = await Runtime.runPromiseExit(runtime, effect, signal ? { signal } : undefined)
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  },
})

export interface Engine {
  readonly exchange: (request: OutgoingRequest, plan: ExchangePlan) => Effect.Effect<Exchanged>
  /**
   * `exchange` for plain code: a request with nothing to pace that succeeds first time runs no
   * Effect at all; pacing and retries run `exchange`'s own Effects through `runner`.
   */
  readonly exchangeAsync: (request: OutgoingRequest, plan: ExchangePlan, runner: EffectRunner) => Promise<Exchanged>
  readonly pacers: PacerRegistry
  /** One retry quota per vendor host, shared by every exchange of this engine. */
  readonly quotas: Map<string, RetryQuota>
}

export class HttpEngine extends Context.Tag("keyway/HttpEngine")<HttpEngine, Engine>() {}

/**
 * The pacer's key: the base URL, and a hash of the credentials, so every request with the same key to
 * the same vendor shares one pace. The hash never leaves the process and cannot be reversed. It is
 * computed only when a pacer is looked up: a check meets no pacer until its vendor states a limit or
 * answers 429, and hashing every check's credentials for nothing was a tenth of its own work.
 */
export class PacingKey {
  #key: string | undefined
  constructor(
    readonly baseUrl: string,
    private readonly credentials: Readonly<Record<string, Redacted.Redacted<string>>>,
  ) {}
  get key(): string {
    if (this.#key === undefined) {
      // Names sorted, each name and value ended by a NUL (the fields refuse control characters): one text per key.
      let text = ""
      for (const name of Object.keys(this.credentials).sort()) {
        text += `${name}\u0000${Redacted.value(this.credentials[name] as Redacted.Redacted<string>)}\u0000`
      }
      this.#key = pacerKey(this.baseUrl, hash("sha256", text, "base64url").slice(0, 22))
    }
    return this.#key
  }
}

/** One attempt's result: what the classifier will see, and the rate-limit headers it carried. */
interface Sent {
  readonly observation: Observation
  readonly limits?: RateLimitFacts
}

const toObservation = (result: HttpResult, limits: RateLimitFacts | undefined): Sent => ({
  observation: responseObservation(result),
  ...(limits ? { limits } : {}),
})

/**
 * Pacing shared by a fleet of processes (`runner/fleet/shared-pacing.ts`, on Redis): every process's
 * requests for one key take their slots from one schedule, and a vendor's wait seen by any holds the
 * key back for all. Without it, pacing is this process's alone.
 */
export interface SharedPacing {
  /**
   * Reserves the key's next slot across the fleet, `pace.intervalMs` after the last, and in the same
   * step the host's next slot when it has a stated limit: the wait before sending. An interval the
   * vendor stated (`pace.stated`) is shared with every process, and used by those still learning.
   */
  readonly reserve: (key: string, pace: SharedPace) => Promise<number>
  /** Holds the key back for every process for `delayMs`, as a vendor asked. */
  readonly hold: (key: string, delayMs: number) => Promise<void>
}

export interface SharedPace {
  readonly intervalMs: number
  /** This process's pacer knows the vendor's stated limit for the key. */
  readonly stated: boolean
  readonly host: HostSchedule | undefined
  /**
   * This process's own wait for the request (its key's pace, its own host slots), in ms: the fleet's
   * slot is no earlier, so the request goes at the fleet's slot, and the fleet's schedule holds the
   * time it is really sent. Each schedule fills its own gaps, so a send at the later of two slots
   * taken apart could sit closer than the host's interval to another process's.
   */
  readonly notBeforeMs: number
}

export class SharedPacingTag extends Context.Tag("keyway/SharedPacing")<SharedPacingTag, SharedPacing>() {}

export const makeEngine = (
  transport: Transport,
  pacers: PacerRegistry = new PacerRegistry(),
  shared?: SharedPacing,
): Engine => {
  const quotas = new Map<string, RetryQuota>()
  /** Each limited host's slots, in ms: one schedule for every key at that host. */
  const hostSlots = new Map<string, HostSlots>()
  const slotsOf = (host: string): HostSlots => {
    let slots = hostSlots.get(host)
    if (!slots) {
      slots = new HostSlots()
      hostSlots.set(host, slots)
    }
    return slots
  }
  const quotaFor = (host: string): RetryQuota => {
    let quota = quotas.get(host)
    if (!quota) {
      quota = new RetryQuota(ENGINE_DEFAULTS.retry.quota)
      quotas.set(host, quota)
    }
    return quota
  }
  /**
   * The transport's request as one asynchronous step, continued by `then`; interrupting it cancels
   * the request. The canceler lets go of the request once it has ended: one that held on kept each
   * request's buffers alive through young-generation collections, and promoted them (4 MB a scavenge).
   */
  const sending = <A>(
    request: OutgoingRequest,
    options: SendOptions,
    then: (outcome: Outcome) => Effect.Effect<A>,
  ): Effect.Effect<A> =>
    Effect.async<A>((resume) => {
      let ended = false
      let cancel: (() => void) | undefined
      const started = transport.start(request, options, (outcome) => {
        ended = true
        cancel = undefined
        resume(then(outcome))
      })
      if (!ended) cancel = started
      return Effect.sync(() => cancel?.())
    })

  /** One attempt's end as the classifier will see it, logged, and learned from by the pacer. */
  const recorded = (
    outcome: Outcome,
    held: { heldMs?: number; heldBy?: WaitSource | "pace" },
    context: AttemptContext,
  ): Sent => {
    const { line, attempts, plan, now } = context
    if (!outcome.ok) {
      const error = outcome.error
      if (error._tag === "TimeUp") {
        attempts.push({ request: line, error: "time_up", ...held })
        return { observation: { kind: "deadline", budgetMs: plan.policy.budgetMs } }
      }
      attempts.push({ request: line, error: error.problem, ...held })
      return { observation: { kind: "network", problem: error.problem, code: error.code, detail: error.message } }
    }
    const result = outcome.result
    attempts.push({ request: line, status: result.status, ...held })
    if (plan.pacing === undefined) return toObservation(result, undefined)
    const answeredAt = now()
    const limits = readRateLimitHeaders(headerLookup(result.headers), answeredAt, plan.policy.customWaitHeaders)
    if (!context.pacer && (result.status === 429 || limits.stated)) context.pacer = pacers.for(plan.pacing.key)
    context.pacer?.observe(answeredAt, result.status, limits)
    if (shared && result.status === 429 && limits.wait) {
      void shared.hold(plan.pacing.key, limits.wait.delayMs).catch(() => undefined)
    }
    return toObservation(result, limits)
  }

  const failureOf = (sent: Sent, context: AttemptContext): AttemptFailure | undefined => {
    const { observation } = sent
    const policy = context.plan.policy
    if (observation.kind === "response" && policy.retryStatuses.has(observation.facts.status)) {
      return {
        kind: "status",
        status: observation.facts.status,
        wait:
          sent.limits?.wait ??
          readRateLimitHeaders(observation.facts.header, context.now(), policy.customWaitHeaders).wait,
      }
    }
    if (observation.kind === "network") return { kind: "network", code: observation.code, readOnly: context.readOnly }
    return undefined
  }

  /** One attempt under pacing: the key's slot, the host's and the fleet's, then the request. */
  const pacedAttempt = (request: OutgoingRequest, context: AttemptContext, rescheduled = false): Effect.Effect<Sent> =>
    // Yield first: checks started together then all build their requests before any slot is taken,
    // so the first request is not kept from the wire by the others' set-up while its slot runs.
    Effect.suspend((): Effect.Effect<Sent> => {
      const { pacer, plan, now } = context
      const at = now()
      if (pacer) {
        const hold = pacer.delayFor(at)
        if (at + hold > plan.deadlineAt) {
          // Sending now would ignore a wait the vendor asked for; waiting would break the deadline.
          return Effect.succeed({ observation: { kind: "held-back", waitMs: hold, setBy: pacer.heldBy(at) } })
        }
      }
      const heldBy = pacer?.heldBy(at)
      // The key's slot and the host's are taken together, so a request waiting for its key does
      // not spend a host slot it cannot use.
      const host = plan.hostSchedule
      const keyFree = pacer && !pacer.unpaced ? at + pacer.delayFor(at) : at
      const hostFree = host ? slotsOf(host.host).take(keyFree, at, host.intervalMs) : at
      const localMs = pacer ? pacer.reserve(at, hostFree) : hostFree - at
      // The fleet's schedule for this key, when there is one; if Redis does not answer, this
      // process's own pace stands alone.
      const fleetMs =
        shared && pacer && plan.pacing !== undefined
          ? shared
              .reserve(plan.pacing.key, {
                intervalMs: pacer.intervalMs,
                stated: pacer.currentPhase === "informed",
                host,
                notBeforeMs: localMs,
              })
              .catch(() => 0)
          : undefined
      const afterHold = (heldMs: number): Effect.Effect<Sent> => {
        if (heldMs > 0 && now() + heldMs > plan.deadlineAt) {
          return Effect.succeed({ observation: { kind: "held-back", waitMs: heldMs, setBy: heldBy ?? "pace" } })
        }
        const held = heldMs >= 1 && heldBy ? { heldMs, heldBy } : {}
        const send = Effect.suspend(() =>
          sending(request, sendOptions(plan, now()), (outcome) => Effect.succeed(recorded(outcome, held, context))),
        )
        // Timers cannot wait less than a millisecond: a shorter hold would cost a whole one.
        if (heldMs < 1) return send
        plan.onWait?.({ ms: heldMs, setBy: heldBy ?? "pace" })
        return Effect.zipRight(
          Effect.sleep(heldMs),
          Effect.suspend(() =>
            // A wait that ended late (a busy process) would send this request beside the next one,
            // sent on time, and a sliding window would count both in one second: take a new slot, once.
            host && !rescheduled && now() - (at + heldMs) > host.intervalMs / 2
              ? pacedAttempt(request, context, true)
              : send,
          ),
        )
      }
      return fleetMs
        ? Effect.flatMap(
            Effect.promise(() => fleetMs),
            (waitMs) => afterHold(Math.max(localMs, waitMs)),
          )
        : afterHold(localMs)
    }).pipe((attempt) => Effect.zipRight(Effect.yieldNow(), attempt))

  /** After a failed attempt: the retry schedule, stepped one failure at a time, and the host's quota. */
  const retried = (
    request: OutgoingRequest,
    first: Sent,
    firstFailure: AttemptFailure,
    context: AttemptContext,
  ): Effect.Effect<Exchanged> =>
    Effect.gen(function* () {
      const { plan, attempts } = context
      const quota = quotaFor(request.url.host)
      let paid = 0
      let sent = first
      let failure: AttemptFailure | undefined = firstFailure
      const schedule = retrySchedule(plan.policy, (f: AttemptFailure) => f, plan.deadlineAt)
      const driver = yield* Schedule.driver(
        plan.onWait
          ? Schedule.onDecision(schedule, (decision) =>
              Effect.sync(() => {
                if (decision.retry) plan.onWait?.({ ms: decision.delayMs, setBy: decision.reason })
              }),
            )
          : schedule,
      )
      while (failure) {
        const cost =
          failure.kind === "network" && isTimeout(networkErrorFor(failure.code).problem)
            ? ENGINE_DEFAULTS.retry.quota.timeoutRetryCost
            : ENGINE_DEFAULTS.retry.quota.retryCost
        if (quota.available < cost) {
          const stopped = { reason: "retry_quota_exhausted" } as const
          const observation = sent.observation
          return {
            observation:
              observation.kind === "response" || observation.kind === "network"
                ? { ...observation, stopped }
                : observation,
            attempts,
          }
        }
        const stepped = yield* Effect.option(driver.next(failure))
        const decision = yield* Effect.orDie(driver.last)
        if (Option.isNone(stepped) || !decision.retry) {
          const stopped: RetryStop | undefined =
            !decision.retry && decision.reason !== "not_retryable" && decision.retryAfterMs !== undefined
              ? { reason: decision.reason, retryAfterMs: decision.retryAfterMs }
              : undefined
          const observation = sent.observation
          return {
            observation: observation.kind === "response" && stopped ? { ...observation, stopped } : observation,
            attempts,
          }
        }
        quota.take(cost)
        paid += cost
        const last = attempts.length - 1
        const previous = attempts[last]
        if (previous) attempts[last] = { ...previous, waitMs: decision.delayMs, waitSetBy: decision.reason }
        sent = yield* pacedAttempt(request, context)
        failure = failureOf(sent, context)
      }
      quota.succeeded(paid)
      return { observation: sent.observation, attempts }
    })

  /** A first attempt's answer: the exchange's end, or the retry machinery's to carry on from. */
  const settle = (
    request: OutgoingRequest,
    sent: Sent,
    context: AttemptContext,
  ): { readonly done: Exchanged } | { readonly retry: Effect.Effect<Exchanged> } => {
    const failure = failureOf(sent, context)
    if (failure) return { retry: retried(request, sent, failure, context) }
    quotaFor(request.url.host).succeeded(0)
    return { done: { observation: sent.observation, attempts: context.attempts } }
  }
  const settled = (request: OutgoingRequest, sent: Sent, context: AttemptContext): Effect.Effect<Exchanged> => {
    const next = settle(request, sent, context)
    return "done" in next ? Effect.succeed(next.done) : next.retry
  }

  /**
   * The key's pacer for an exchange: made at once where the key must be paced (a sync finding its
   * limit, a fleet's shared pace, a host's stated limit), found where it may be held back already,
   * and otherwise left to the first answer that says something of the vendor's limit (`recorded`).
   */
  const pacerOf = (plan: ExchangePlan): Pacer | undefined => {
    const pacing = plan.pacing
    if (pacing === undefined) return undefined
    if (plan.findLimit || shared !== undefined || plan.hostSchedule !== undefined) return pacers.for(pacing.key)
    return pacers.pacesAny(pacing.baseUrl) ? pacers.find(pacing.key) : undefined
  }
  const contextOf = (request: OutgoingRequest, plan: ExchangePlan, now: () => number): AttemptContext => {
    const context: AttemptContext = {
      plan,
      now,
      attempts: [],
      line: describeRequest(request),
      readOnly: request.method === "GET" || request.method === "HEAD",
      pacer: pacerOf(plan),
    }
    if (plan.findLimit) context.pacer?.beginPacing()
    return context
  }
  const needsPacing = (context: AttemptContext): boolean =>
    shared !== undefined || context.plan.hostSchedule !== undefined || context.pacer?.unpaced === false

  const exchange: Engine["exchange"] = (request, plan) =>
    Effect.clockWith((clock) => {
      const context = contextOf(request, plan, () => clock.unsafeCurrentTimeMillis())
      if (needsPacing(context)) {
        return Effect.flatMap(pacedAttempt(request, context), (sent) => settled(request, sent, context))
      }
      // The happy path: nothing to pace, so the request goes at once, as plain code in one
      // asynchronous step; the retry machinery comes in only if its answer is a failure.
      return sending(request, sendOptions(plan, context.now()), (outcome) =>
        settled(request, recorded(outcome, {}, context), context),
      )
    })

  return {
    pacers,
    quotas,
    exchange,
    exchangeAsync: (request, plan, runner) => {
      const context = contextOf(request, plan, runner.now)
      if (needsPacing(context)) return runner.run(exchange(request, plan), plan.signal)
      return new Promise((resolve, reject) => {
        transport.start(request, sendOptions(plan, context.now()), (outcome) => {
          const next = settle(request, recorded(outcome, {}, context), context)
          if ("done" in next) resolve(next.done)
          else runner.run(next.retry, plan.signal).then(resolve, reject)
        })
      })
    },
  }
}

interface AttemptContext {
  readonly plan: ExchangePlan
  readonly now: () => number
  /** The exchange's attempt log, in order. */
  readonly attempts: Attempt[]
  readonly line: string
  readonly readOnly: boolean
  /** Set once known: an exchange that starts without one gets it from the first answer about the limit. */
  pacer: Pacer | undefined
}

const sendOptions = (plan: ExchangePlan, now: number): SendOptions => ({
  timeoutMs: plan.deadlineAt - now,
  ...(plan.signal ? { signal: plan.signal } : {}),
  ...(plan.sandbox ? { sandbox: true } : {}),
})

/** The engine over the transport in context, with its own pacers. */
export const engineLayer: Layer.Layer<HttpEngine, never, HttpTransport> = Layer.effect(
  HttpEngine,
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    // A fleet's worker provides shared pacing; every other process paces alone.
    const shared = Option.getOrUndefined(yield* Effect.serviceOption(SharedPacingTag))
    return makeEngine(transport, new PacerRegistry(), shared)
  }),
)
