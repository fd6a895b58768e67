/**
 * "Test" in save & test: checks credentials against the vendor's live API and returns one
 * structured verdict. Fields are validated first (every problem at once); then each test request
 * is sent with the retry engine under save & test's small wait budget; then probes add warnings.
 */
import { createHash } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { resolveBaseUrl, sandboxBaseUrl, withSettingDefaults } from "../../core/base-url.ts"
import { classifyResponse, matchesJson, parseJson, type ResponseFacts } from "../../core/classify.ts"
import type { ConnectorDefinition, Expectation, Placement } from "../../core/definition.ts"
import { checkCredentials, checkSettings, type FieldProblem } from "../../core/fields.ts"
import { type Actor, OUTCOME_INFO, type Outcome } from "../../core/outcomes.ts"
import { headerLookup } from "../../core/rate-limit-headers.ts"
import { cleanVendorText, fingerprint, redactText } from "../../core/redact.ts"
import {
  type AttemptFailure,
  type Decision,
  type DelayReason,
  policyFor,
  type RetryPolicy,
  retrySchedule,
} from "../../core/retry.ts"
import { buildRequest, describeRequest, InvalidInput, type RequestSpec } from "../http/request.ts"
import {
  type HttpResult,
  HttpTransport,
  type OutgoingRequest,
  type TransportError,
  type TransportProblem,
} from "../http/transport.ts"

export interface CredentialInput {
  readonly connectorId: string
  readonly credentials: Readonly<Record<string, string | undefined>>
  readonly settings?: Readonly<Record<string, string | undefined>>
  /** When the customer knows it: the date a credential expires, `YYYY-MM-DD`. */
  readonly expiresAt?: string
}

export interface TestOptions {
  /** Send every request to this loopback sandbox instead of the vendor (`--sandbox`). */
  readonly sandboxUrl?: string | undefined
  /** The clock for templates and expiry; defaults to now. */
  readonly now?: () => Date
}

export interface Attempt {
  /** `GET /path`: never the query string, which may hold a key. */
  readonly request: string
  readonly status?: number
  readonly error?: TransportProblem
  /** The wait before the next attempt, and what set it. */
  readonly waitMs?: number
  readonly waitSetBy?: DelayReason
}

export interface TestResult {
  readonly connector: string
  readonly outcome: Outcome
  /** Who must act: none, user, retry (try later) or vendor. */
  readonly actor: Actor
  /** False when nothing could be sent: the connector has no test request. */
  readonly tested: boolean
  readonly message: string
  readonly remediation: string
  /** Why this outcome: `rule 2`, `default table`, `budget_exceeded`... */
  readonly reason: string
  readonly httpStatus?: number
  /** The vendor's own message, with secrets redacted and control characters removed. */
  readonly vendorMessage?: string
  /** For `rate_limited`: when to try again. */
  readonly retryAfterSeconds?: number
  readonly attempts: ReadonlyArray<Attempt>
  readonly durationMs: number
  readonly warnings: ReadonlyArray<string>
  /** Last 4 characters of each secret given: the only part of a secret ever shown. */
  readonly fingerprints: Readonly<Record<string, string>>
  /** Where the requests went: origin and base path only. */
  readonly baseUrl: string
  readonly expiresAt?: string
}

/** One attempt that the retry engine should see: a retryable status or a network failure. */
class AttemptFailed extends Data.TaggedError("AttemptFailed")<{
  readonly failure: AttemptFailure
  readonly result?: HttpResult
  readonly error?: TransportError
}> {}

interface Exchange {
  readonly result: Either.Either<HttpResult, AttemptFailed>
  readonly attempts: ReadonlyArray<Attempt>
  readonly lastDecision: Decision | undefined
  /** Not sent: the vendor's last answer asked for a longer wait than this call's budget allows. */
  readonly heldBackMs?: number
}

/**
 * The pacer's key: the base URL, and a hash of the credentials, so every request with the same key to the
 * same vendor shares one pace. The hash never leaves the process and cannot be reversed.
 */
export const pacingKey = (baseUrl: string, credentials: Readonly<Record<string, Redacted.Redacted<string>>>): string =>
  `${baseUrl}|${createHash("sha256")
    .update(
      JSON.stringify(
        Object.entries(credentials)
          .map(([k, v]) => [k, Redacted.value(v)])
          .sort(),
      ),
    )
    .digest("hex")
    .slice(0, 24)}`

/**
 * Sends one request through the pacer and the retry engine, logging each attempt and each wait.
 * With a pacing key, the request waits for its slot first, and its response teaches the pacer.
 */
export const exchange = (request: OutgoingRequest, policy: RetryPolicy, pacing?: string) =>
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    const attempts: Attempt[] = []
    let lastDecision: Decision | undefined
    const line = describeRequest(request)
    const readOnly = request.method === "GET" || request.method === "HEAD"
    const pacer = pacing === undefined ? undefined : transport.pacers.for(pacing)
    const waitForSlot = pacer
      ? Effect.flatMap(Clock.currentTimeMillis, (now) => {
          // Timers cannot wait less than a millisecond: a shorter wait would cost a whole one.
          const wait = pacer.reserve(now)
          return wait >= 1 ? Effect.sleep(wait) : Effect.void
        })
      : Effect.void
    const learn = (result: HttpResult) =>
      pacer
        ? Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sync(() => pacer.observe(now, result.status, headerLookup(result.headers))),
          )
        : Effect.void
    // A paced 429 with no wait header has already slowed the pace; the retry waits about one slot,
    // doubling, instead of a backoff sized for a vendor we know nothing about.
    const retryPolicy = pacer
      ? { ...policy, baseDelayMs: Math.min(policy.baseDelayMs, Math.max(20, Math.round(2000 / pacer.currentRate))) }
      : policy
    if (pacer) {
      const wait = pacer.delayFor(yield* Clock.currentTimeMillis)
      if (wait > policy.budgetMs) {
        // Sending now would ignore a wait the vendor asked for; waiting would break the budget.
        return {
          result: Either.left(new AttemptFailed({ failure: { kind: "network", code: "HELD_BACK", readOnly } })),
          attempts,
          lastDecision,
          heldBackMs: wait,
        } satisfies Exchange
      }
    }
    const once = Effect.zipRight(waitForSlot, transport.send(request)).pipe(
      Effect.tap(learn),
      Effect.tapBoth({
        onSuccess: (result) => Effect.sync(() => attempts.push({ request: line, status: result.status })),
        onFailure: (error) => Effect.sync(() => attempts.push({ request: line, error: error.problem })),
      }),
      Effect.mapError(
        (error) => new AttemptFailed({ failure: { kind: "network", code: error.code, readOnly }, error }),
      ),
      Effect.flatMap((result) =>
        policy.retryStatuses.has(result.status)
          ? Effect.fail(
              new AttemptFailed({
                failure: { kind: "status", status: result.status, header: headerLookup(result.headers) },
                result,
              }),
            )
          : Effect.succeed(result),
      ),
    )
    const schedule = retrySchedule(retryPolicy, (failed: AttemptFailed) => failed.failure).pipe(
      Schedule.tapOutput((decision) =>
        Effect.sync(() => {
          lastDecision = decision
          const last = attempts.at(-1)
          if (decision.retry && last) {
            attempts[attempts.length - 1] = { ...last, waitMs: decision.delayMs, waitSetBy: decision.reason }
          }
        }),
      ),
    )
    const result = yield* Effect.either(Effect.retry(once, schedule))
    return { result, attempts, lastDecision } satisfies Exchange
  })

const factsOf = (result: HttpResult): ResponseFacts => ({
  status: result.status,
  header: headerLookup(result.headers),
  text: result.body,
  json: parseJson(result.body),
  truncated: result.truncated,
})

export const transportOutcome = (problem: TransportProblem): Outcome =>
  problem === "connect_timeout" || problem === "headers_timeout" || problem === "body_timeout"
    ? "timeout"
    : "unreachable"

/** One request's part of a TestResult, plus the response it came from (for probes' checks). */
type Verdict = Pick<
  TestResult,
  "outcome" | "message" | "remediation" | "reason" | "httpStatus" | "vendorMessage" | "retryAfterSeconds"
> & { readonly facts?: ResponseFacts }

const verdictOf = (
  definition: ConnectorDefinition,
  done: Exchange,
  expect: Expectation | undefined,
  secrets: ReadonlyArray<Redacted.Redacted<string>>,
): Verdict => {
  if (done.heldBackMs !== undefined) {
    const retryAfterSeconds = Math.max(1, Math.ceil(done.heldBackMs / 1000))
    return {
      outcome: "rate_limited",
      message: `${OUTCOME_INFO.rate_limited.message} It asked Keyway to wait; nothing was sent. Try again in ${retryAfterSeconds} s.`,
      remediation: OUTCOME_INFO.rate_limited.remediation,
      reason: "held back by the vendor's last wait",
      retryAfterSeconds,
    }
  }
  const result = Either.isRight(done.result) ? done.result.right : done.result.left.result
  if (!result) {
    const error = Either.isLeft(done.result) ? done.result.left.error : undefined
    const outcome = transportOutcome(error?.problem ?? "network_error")
    return {
      outcome,
      message: `${OUTCOME_INFO[outcome].message} (${redactText(error?.message ?? "network error", secrets)})`,
      remediation: OUTCOME_INFO[outcome].remediation,
      reason: error?.problem ?? "network_error",
    }
  }
  const facts = factsOf(result)
  const { vendorMessage: raw, ...classified } = classifyResponse(definition, facts, expect)
  const vendorMessage = raw ? cleanVendorText(raw, secrets) : undefined
  const base = {
    ...classified,
    httpStatus: result.status,
    ...(vendorMessage ? { vendorMessage } : {}),
    facts,
  }
  if (classified.outcome !== "rate_limited") return base
  const waitMs = done.lastDecision && !done.lastDecision.retry ? done.lastDecision.retryAfterMs : undefined
  const retryAfterSeconds = waitMs === undefined ? undefined : Math.max(1, Math.ceil(waitMs / 1000))
  return {
    ...base,
    reason: done.lastDecision && !done.lastDecision.retry ? done.lastDecision.reason : base.reason,
    message: `${classified.message}${/not rejected/i.test(classified.message) ? "" : " The key was not rejected."} ${retryAfterSeconds ? `Try again in ${retryAfterSeconds} s.` : "Try again later."}`,
    ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
  }
}

const DAY_MS = 86_400_000

const expiryWarnings = (definition: ConnectorDefinition, expiresAt: string | undefined, now: Date): string[] => {
  if (!expiresAt) return []
  const days = Math.ceil((Date.parse(`${expiresAt}T00:00:00Z`) - now.getTime()) / DAY_MS)
  const which = definition.credentials.find((c) => c.expires)?.label ?? "The credential"
  if (days < 0)
    return [`${which} expired on ${expiresAt}, by the date given, yet the vendor accepted it; check the date.`]
  if (days <= 30)
    return [`${which} expires on ${expiresAt}, in ${days} day${days === 1 ? "" : "s"}. Create a new one before then.`]
  return []
}

/** Checks the input against the definition and resolves where requests go; no network. */
export const prepare = (definition: ConnectorDefinition, input: CredentialInput, options: TestOptions) => {
  const problems: FieldProblem[] = [
    ...checkCredentials(definition, input.credentials),
    ...checkSettings(definition, input.settings ?? {}),
  ]
  if (input.expiresAt !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(input.expiresAt)) {
    problems.push({ field: "expiresAt", message: "must be a date, YYYY-MM-DD" })
  }
  const settings = input.settings ?? {}
  // The real base URL is checked even in sandbox mode, so settings fail the same way in both.
  const real = resolveBaseUrl(definition, settings)
  if (Either.isLeft(real)) {
    const setting = definition.baseUrl.selfHostedSetting ?? definition.baseUrl.bySetting?.setting
    const fromTemplate = (definition.settings ?? []).find((s) => definition.baseUrl.url.includes(`settings.${s.key}`))
    problems.push({ field: `settings.${setting ?? fromTemplate?.key ?? "baseUrl"}`, message: real.left.detail })
  }
  const baseUrl = options.sandboxUrl ? sandboxBaseUrl(definition.id, options.sandboxUrl) : real
  if (Either.isLeft(baseUrl) && options.sandboxUrl) problems.push({ field: "sandbox", message: baseUrl.left.detail })
  if (problems.length > 0 || Either.isLeft(baseUrl)) return Either.left(new InvalidInput({ problems }))
  const credentials: Record<string, Redacted.Redacted<string>> = {}
  for (const [key, value] of Object.entries(input.credentials)) {
    if (value !== undefined && value !== "") credentials[key] = Redacted.make(value)
  }
  return Either.right({ baseUrl: baseUrl.right, credentials, settings })
}

export const testCredentials = (
  definition: ConnectorDefinition,
  input: CredentialInput,
  options: TestOptions = {},
): Effect.Effect<TestResult, InvalidInput, HttpTransport> =>
  Effect.gen(function* () {
    const started = performance.now()
    const now = options.now?.() ?? new Date()
    const prepared = prepare(definition, input, options)
    if (Either.isLeft(prepared)) return yield* Effect.fail(prepared.left)
    const { baseUrl, credentials, settings } = prepared.right
    const secrets = Object.values(credentials)
    const policy = policyFor(definition.rateLimit, "saveAndTest")
    const context = { baseUrl, credentials, settings: withSettingDefaults(definition, settings), now }
    // One pace for this key at this vendor; hashed once per check, not per request.
    const pacing = pacingKey(baseUrl.href, credentials)
    const send = (spec: RequestSpec, placements: ReadonlyArray<Placement>) =>
      Effect.suspend(() => {
        const built = buildRequest(spec, placements, context)
        return Either.isLeft(built) ? Effect.fail(built.left) : exchange(built.right, policy, pacing)
      })

    const attempts: Attempt[] = []
    const fingerprints: Record<string, string> = {}
    for (const credential of definition.credentials) {
      const value = credentials[credential.key]
      if (value && credential.secret) fingerprints[credential.key] = fingerprint(Redacted.value(value))
    }
    const finish = (verdict: Verdict, warnings: ReadonlyArray<string>): TestResult => {
      const { facts: _facts, ...shown } = verdict
      return {
        connector: definition.id,
        ...shown,
        actor: OUTCOME_INFO[verdict.outcome].actor,
        tested: true,
        attempts,
        durationMs: Math.round(performance.now() - started),
        warnings,
        fingerprints,
        baseUrl: `${baseUrl.origin}${baseUrl.pathname === "/" ? "" : baseUrl.pathname}`,
        ...(input.expiresAt ? { expiresAt: input.expiresAt } : {}),
      }
    }

    let verdict: Verdict | undefined
    for (const test of definition.test.requests) {
      const done = yield* send(test, definition.auth)
      attempts.push(...done.attempts)
      verdict = verdictOf(definition, done, test.expect, secrets)
      if (verdict.outcome !== "connected") return finish(verdict, [])
    }

    const warnings: string[] = []
    for (const probe of definition.test.probes ?? []) {
      if (!(probe.whenCredentials ?? []).every((key) => credentials[key] !== undefined)) continue
      const done = yield* send(probe, probe.auth ?? definition.auth)
      attempts.push(...done.attempts)
      const probed = verdictOf(definition, done, probe.expect, secrets)
      if (probed.outcome !== "connected") {
        warnings.push(probe.warning)
        continue
      }
      for (const rule of probe.warnWhen ?? []) {
        if (matchesJson(probed.facts?.json, rule.json)) warnings.push(rule.warning)
      }
    }
    warnings.push(...expiryWarnings(definition, input.expiresAt, now))
    if (!verdict) {
      // Nothing was sent: "not tested" is not "passed", and the result says so.
      return {
        ...finish(
          {
            outcome: "connected",
            message: "Not tested: this connector has no test request, so only the credentials' format was checked.",
            remediation: "Add a test request to the connector definition.",
            reason: "no test request",
          },
          warnings,
        ),
        tested: false,
      }
    }
    return finish(verdict, warnings)
  })
