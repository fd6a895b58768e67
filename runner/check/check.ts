/**
 * "Test" in save & test: checks credentials against the vendor's live API and returns one verdict
 * with its evidence. Fields are validated first (every problem at once); then each test request goes
 * through the exchange engine under one deadline (the definition's save & test budget); then probes
 * add warnings. With a `Sandbox` in context, every request goes to its fakes instead.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { classify, expectationCheck, matchesJson, type Observation } from "../../core/classify.ts"
import type { ConnectorDefinition, Placement } from "../../core/definition.ts"
import { daysUntil, expiringCredential, expiryWarning } from "../../core/expiry.ts"
import { InvalidInput } from "../../core/fields.ts"
import { OUTCOME_INFO, type Verdict } from "../../core/outcomes.ts"
import { hostScheduleOf } from "../../core/pacer.ts"
import { type CredentialInput, prepare } from "../../core/prepare.ts"
import { fingerprint } from "../../core/redact.ts"
import { policyFor } from "../../core/retry.ts"
import { type Attempt, type EffectRunner, type Engine, effectRunner, HttpEngine, PacingKey } from "../http/engine.ts"
import { buildRequest, type RequestSpec } from "../http/request.ts"
import { Sandbox } from "../sandbox/service.ts"

export interface CheckResult {
  readonly connector: string
  readonly verdict: Verdict
  /** False when nothing could be sent: the connector has no test request. */
  readonly tested: boolean
  readonly attempts: ReadonlyArray<Attempt>
  readonly durationMs: number
  readonly warnings: ReadonlyArray<string>
  /** Last 4 characters of each secret given: the only part of a secret ever shown. */
  readonly fingerprints: Readonly<Record<string, string>>
  /** Where the requests went: origin and base path only. */
  readonly baseUrl: string
  readonly expiresAt?: string
}

export interface CheckOptions {
  /** Aborting it stops the check at once, mid-wait included. */
  readonly signal?: AbortSignal
  /** Run the test requests only, not the probes: to confirm a key works, not to advise on it. */
  readonly testRequestsOnly?: boolean
}

/** The expiry warning a passing check carries; an expiry already past, yet accepted, means the date is wrong. */
const expiryWarnings = (
  definition: ConnectorDefinition,
  input: CredentialInput,
  verdict: Verdict | undefined,
  now: number,
): string[] => {
  if (!input.expiresAt) return []
  const expiry = { date: input.expiresAt, source: input.expirySource ?? "given" } as const
  const what = expiringCredential(definition)
  if (verdict?.outcome === "connected" && daysUntil(expiry.date, now) < 0) {
    return [
      `${what} expired on ${expiry.date}, by the date ${expiry.source === "given" ? "given" : "estimated"}, yet the vendor accepted it; check the date.`,
    ]
  }
  const warning = expiryWarning(what, expiry, now)
  return warning ? [warning] : []
}

export const fingerprintsOf = (
  definition: ConnectorDefinition,
  credentials: Readonly<Record<string, Redacted.Redacted<string>>>,
): Record<string, string> => {
  const prints: Record<string, string> = {}
  for (const credential of definition.credentials) {
    const value = credentials[credential.key]
    if (value && credential.secret) prints[credential.key] = fingerprint(Redacted.value(value))
  }
  return prints
}

/** A check with no test request: "not tested" is not "passed", and the verdict says so. */
const NOT_TESTED: Verdict = {
  outcome: "not_tested",
  actor: OUTCOME_INFO.not_tested.actor,
  code: "not_tested",
  reason: "no test request",
  message: OUTCOME_INFO.not_tested.message,
  remediation: OUTCOME_INFO.not_tested.remediation,
}

const bodyOf = (observation: Observation): unknown =>
  observation.kind === "response" ? observation.facts.json : undefined

/**
 * What a check needs from its surroundings: the engine, a way to run its Effects (on the caller's
 * runtime, so a TestClock still rules), the clock, and the sandbox when there is one.
 */
export interface CheckEnvironment extends EffectRunner {
  readonly engine: Engine
  readonly sandboxUrl: string | undefined
}

/**
 * The check itself, as plain code that awaits only its requests: a check that needs no retry and no
 * pacing runs no Effect at all (a fiber per check was most of save & test's overhead, and its
 * young-generation garbage most of the tail). The Effect below and the library's Promise API both run
 * it. Rejects with `InvalidInput` before any request.
 */
export const runCheck = async (
  definition: ConnectorDefinition,
  input: CredentialInput,
  environment: CheckEnvironment,
  options: CheckOptions = {},
): Promise<CheckResult> => {
  const { engine, now } = environment
  const startedAt = now()
  const prepared = prepare(definition, input, environment.sandboxUrl)
  if (Either.isLeft(prepared)) throw prepared.left
  const { baseUrl, credentials, settings, secrets, sandboxed } = prepared.right
  const policy = policyFor(definition.rateLimit, "saveAndTest")
  const plan = {
    policy,
    // One pace for this key at this vendor; hashed once per check, not per request.
    pacing: new PacingKey(baseUrl.href, credentials),
    ...hostScheduleOf(definition.rateLimit.perHost, baseUrl),
    deadlineAt: startedAt + policy.budgetMs,
    sandbox: sandboxed,
    ...(options.signal ? { signal: options.signal } : {}),
  }
  const context = { baseUrl, credentials, settings, now: new Date(startedAt), headers: definition.headers }
  const attempts: Attempt[] = []
  const send = async (spec: RequestSpec, placements: ReadonlyArray<Placement>) => {
    const built = buildRequest(spec, placements, context)
    if (Either.isLeft(built)) throw built.left
    const done = await engine.exchangeAsync(built.right, plan, environment)
    attempts.push(...done.attempts)
    return done.observation
  }
  const finish = (verdict: Verdict, warnings: ReadonlyArray<string>, tested = true): CheckResult => ({
    connector: definition.id,
    verdict,
    tested,
    attempts,
    durationMs: Math.round(now() - startedAt),
    warnings,
    fingerprints: fingerprintsOf(definition, credentials),
    baseUrl: `${baseUrl.origin}${baseUrl.pathname === "/" ? "" : baseUrl.pathname}`,
    ...(input.expiresAt ? { expiresAt: input.expiresAt } : {}),
  })

  let verdict: Verdict | undefined
  for (const test of definition.test.requests) {
    const observation = await send(test, definition.auth)
    verdict = classify(definition, observation, { success: expectationCheck(test.expect), secrets })
    if (verdict.outcome !== "connected") return finish(verdict, [])
  }

  const warnings: string[] = []
  for (const probe of options.testRequestsOnly ? [] : (definition.test.probes ?? [])) {
    if (!(probe.whenCredentials ?? []).every((key) => credentials[key] !== undefined)) continue
    const observation = await send(probe, probe.auth ?? definition.auth)
    const probed = classify(definition, observation, { success: expectationCheck(probe.expect), secrets })
    if (probed.outcome !== "connected") {
      warnings.push(probe.warning)
      continue
    }
    const body = bodyOf(observation)
    for (const rule of probe.warnWhen ?? []) {
      const matches = Array.isArray(rule.json) ? rule.json : [rule.json]
      const holds = matches.every((match) => matchesJson(body, match))
      if (holds && !(rule.unless && matchesJson(body, rule.unless))) warnings.push(rule.warning)
    }
  }
  warnings.push(...expiryWarnings(definition, input, verdict, startedAt))
  return verdict ? finish(verdict, warnings) : finish(NOT_TESTED, warnings, false)
}

/** The check as an Effect: interrupting it aborts its requests. */
export const testCredentials = (
  definition: ConnectorDefinition,
  input: CredentialInput,
  options: CheckOptions = {},
): Effect.Effect<CheckResult, InvalidInput, HttpEngine> =>
  Effect.gen(function* () {
    const engine = yield* HttpEngine
    const sandbox = Option.getOrUndefined(yield* Effect.serviceOption(Sandbox))
    const clock = yield* Effect.clock
    const runtime = yield* Effect.runtime<never>()
    const environment: CheckEnvironment = {
      engine,
      sandboxUrl: sandbox?.url,
      ...effectRunner(runtime, () => clock.unsafeCurrentTimeMillis()),
    }
    const checked = yield* Effect.promise((interrupted) =>
      runCheck(definition, input, environment, {
        ...options,
        signal: options.signal ? AbortSignal.any([options.signal, interrupted]) : interrupted,
      }).then(Either.right, (error) => (error instanceof InvalidInput ? Either.left(error) : Promise.reject(error))),
    )
    return yield* checked
  })
