/**
 * The one classifier. Whatever happened to a request (a response, a network failure, a request held
 * back by a vendor's earlier wait, or the check's deadline passing) becomes one `Verdict`. For a
 * response: the request's expectation of a success, then the definition's own rules in order, then
 * Keyway's default table. Pure: the caller reads the response, and passes the secrets to redact.
 */
import type * as Redacted from "effect/Redacted"
import type { ConnectorDefinition, ErrorRule, Expectation, JsonMatch, StatusMatch } from "./definition.ts"
import { jsonTypeOf, select } from "./json-path.ts"
import { isTimeout, type NetworkProblem } from "./network-errors.ts"
import {
  defaultForStatus,
  defaultScopeFor,
  OUTCOME_INFO,
  type Outcome,
  type Verdict,
  type VerdictCode,
} from "./outcomes.ts"
import { type HeaderLookup, headerLookup, type WaitSource } from "./rate-limit-headers.ts"
import { cleanVendorText, redactText } from "./redact.ts"

export interface ResponseFacts {
  readonly status: number
  readonly header: HeaderLookup
  readonly text: string
  /** The parsed body, or undefined when it is not JSON. */
  readonly json: unknown
  readonly truncated: boolean
}

/** Why the retry engine stopped sending a retryable request again. */
export type RetryStop =
  | {
      readonly reason: "attempts_exhausted" | "budget_exceeded"
      /** How long the vendor (or the backoff) wanted us to wait next. */
      readonly retryAfterMs: number
    }
  /** The vendor host's retry quota is spent: it keeps failing, so this failure is not retried. */
  | { readonly reason: "retry_quota_exhausted" }

export type Observation =
  | { readonly kind: "response"; readonly facts: ResponseFacts; readonly stopped?: RetryStop }
  /** `code` is the error's own (ECONNRESET, UND_ERR_HEADERS_TIMEOUT...); `detail` names the origin only. */
  | {
      readonly kind: "network"
      readonly problem: NetworkProblem
      readonly code: string
      readonly detail: string
      readonly stopped?: RetryStop
    }
  /** Not sent: a vendor's earlier wait still holds this key back, longer than the deadline allows. */
  | { readonly kind: "held-back"; readonly waitMs: number; readonly setBy: WaitSource | "pace" }
  | { readonly kind: "deadline"; readonly budgetMs: number }

/** A request's test of a success: undefined when the response meets it, otherwise what is wrong. */
export type SuccessCheck = (facts: ResponseFacts) => string | undefined

export const statusMatches = (match: StatusMatch, status: number): boolean => {
  if (typeof match === "number") return match === status
  if (typeof match === "string") return Math.floor(status / 100) === Number(match[0])
  return match.includes(status)
}

export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** A response as the transport hands it over: header names lower-case, as undici gives them. */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
  readonly truncated: boolean
}

/** What the classifier sees of a response: the engine and the error examples both build it here. */
export const responseObservation = (response: RawResponse): Observation => ({
  kind: "response",
  facts: {
    status: response.status,
    header: headerLookup(response.headers),
    text: response.body,
    json: parseJson(response.body),
    truncated: response.truncated,
  },
})

export const matchesJson = (json: unknown, match: JsonMatch): boolean =>
  select(json, match.path).some((value) => {
    if (match.type !== undefined && jsonTypeOf(value) !== match.type) return false
    if (match.equals !== undefined && value !== match.equals) return false
    if (match.contains !== undefined) {
      if (typeof value !== "string" || !value.toLowerCase().includes(match.contains.toLowerCase())) return false
    }
    return true
  })

const ruleMatches = (rule: ErrorRule, facts: ResponseFacts): boolean => {
  if (!statusMatches(rule.status, facts.status)) return false
  if (rule.json && !matchesJson(facts.json, rule.json)) return false
  if (rule.bodyContains && !facts.text.toLowerCase().includes(rule.bodyContains.toLowerCase())) return false
  if (rule.header) {
    const value = facts.header(rule.header.name)
    if (rule.header.present === true && value === undefined) return false
    if (rule.header.present === false && value !== undefined) return false
    if (rule.header.contains && !value?.toLowerCase().includes(rule.header.contains.toLowerCase())) return false
  }
  return true
}

/** A definition's expectation (`expect:`), as a success check. */
export const expectationCheck =
  (expect: Expectation | undefined): SuccessCheck =>
  (facts) => {
    if (!statusMatches(expect?.status ?? 200, facts.status)) return `status ${facts.status} was not expected`
    for (const match of expect?.json ?? []) {
      if (facts.json === undefined) return "the body is not JSON"
      if (!matchesJson(facts.json, match)) {
        const wanted = match.type ? `is not ${match.type === "array" ? "an" : "a"} ${match.type}` : "does not match"
        return `${match.path === "$" ? "the body" : match.path} ${wanted}`
      }
    }
    return undefined
  }

const vendorMessageOf = (definition: ConnectorDefinition, facts: ResponseFacts): string | undefined => {
  for (const path of definition.errors.messagePaths ?? []) {
    const found = select(facts.json, path).find((value) => typeof value === "string" && value.trim() !== "")
    if (typeof found === "string") return found
  }
  return undefined
}

const looksLikeHtml = (facts: ResponseFacts): boolean =>
  /^\s*</.test(facts.text) || (facts.header("content-type") ?? "").includes("html")

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000))

const verdict = (
  outcome: Outcome,
  code: VerdictCode,
  reason: string,
  extra: Partial<Omit<Verdict, "outcome" | "actor" | "code" | "reason">> = {},
): Verdict => ({
  outcome,
  actor: OUTCOME_INFO[outcome].actor,
  code,
  reason,
  message: extra.message ?? OUTCOME_INFO[outcome].message,
  remediation: extra.remediation ?? OUTCOME_INFO[outcome].remediation,
  ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}),
  ...(extra.vendorMessage ? { vendorMessage: extra.vendorMessage } : {}),
  ...(extra.retryAfterSeconds !== undefined ? { retryAfterSeconds: extra.retryAfterSeconds } : {}),
  ...(extra.scope ? { scope: extra.scope } : {}),
})

const classifyResponse = (
  definition: ConnectorDefinition,
  facts: ResponseFacts,
  success: SuccessCheck,
  secrets: ReadonlyArray<Redacted.Redacted<string>>,
): Verdict => {
  // The vendor's own message matters only when something is wrong; a success skips looking for it.
  const raw =
    facts.status >= 200 && facts.status < 300 && !facts.truncated ? undefined : vendorMessageOf(definition, facts)
  const base = { httpStatus: facts.status, ...(raw ? { vendorMessage: cleanVendorText(raw, secrets) } : {}) }
  if (facts.truncated) {
    return verdict("unexpected_response", "body_too_large", "body too large", {
      ...base,
      message: "The vendor's response was larger than Keyway accepts, so it was cut off.",
      remediation: "Check the base URL; an API test request should answer with a small body.",
    })
  }
  if (facts.status >= 200 && facts.status < 300) {
    const unmet = success(facts)
    if (unmet === undefined) return verdict("connected", "connected", "expectation met", base)
    return verdict("unexpected_response", "expectation_failed", `expectation: ${unmet}`, {
      ...base,
      message: looksLikeHtml(facts)
        ? "The vendor answered with a web page instead of API data."
        : `The vendor answered ${facts.status}, but ${unmet}.`,
      remediation: "This usually means a wrong base URL, region or server: check the settings.",
    })
  }
  if (facts.status >= 300 && facts.status < 400) {
    const location = facts.header("location")
    let target = "another address"
    try {
      if (location) {
        const origin = new URL(location, "http://relative.invalid").origin
        target = origin === "http://relative.invalid" ? "another path" : origin
      }
    } catch {
      // an unparseable Location says nothing useful
    }
    return verdict("unexpected_response", "redirect_not_followed", "redirect", {
      ...base,
      message: `The vendor redirected the request to ${target}. Keyway does not follow redirects with credentials.`,
      remediation: "Check the base URL, region or server setting: an API base URL should not redirect.",
    })
  }
  const index = definition.errors.rules.findIndex((rule) => ruleMatches(rule, facts))
  const rule = definition.errors.rules[index]
  if (rule) {
    const scope = rule.scope ?? defaultScopeFor(rule.outcome)
    return verdict(rule.outcome, rule.outcome, `rule ${index + 1}`, {
      ...base,
      message: rule.message,
      remediation: rule.remediation,
      ...(scope ? { scope } : {}),
    })
  }
  const row = defaultForStatus(facts.status)
  const outcome = row.outcome
  const scope = row.scope ?? defaultScopeFor(outcome)
  const tableBase = { ...base, ...(scope ? { scope } : {}) }
  if (outcome === "server_error" && looksLikeHtml(facts)) {
    return verdict(outcome, outcome, "default table", {
      ...tableBase,
      message: `The vendor (or a proxy in front of it) answered ${facts.status} with an error page.`,
    })
  }
  if (scope === "request") {
    return verdict(outcome, outcome, "default table", {
      ...tableBase,
      message: `The vendor refused the request as malformed (HTTP ${facts.status}).`,
      remediation:
        "Check the parameters and settings; if they are right, report this to Keyway with the vendor's message.",
    })
  }
  return verdict(outcome, outcome, "default table", tableBase)
}

const NOT_RETRIED = "The vendor is failing; not retried, so as not to add to its load."

/**
 * A rate-limited answer says the key was not rejected, and when to try again; an answer the retry
 * quota stopped says the vendor is failing and it was not retried.
 */
const withRetryAdvice = (found: Verdict, stopped: RetryStop | undefined): Verdict => {
  if (stopped?.reason === "retry_quota_exhausted") {
    return { ...found, reason: stopped.reason, message: `${found.message} ${NOT_RETRIED}` }
  }
  if (found.outcome !== "rate_limited") return found
  const retryAfterSeconds = stopped ? seconds(stopped.retryAfterMs) : undefined
  const notRejected = /not rejected/i.test(found.message) ? "" : " The key was not rejected."
  return {
    ...found,
    reason: stopped?.reason ?? found.reason,
    message: `${found.message}${notRejected} ${retryAfterSeconds ? `Try again in ${retryAfterSeconds} s.` : "Try again later."}`,
    ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
  }
}

export interface ClassifyContext {
  /** What a success must look like; by default a 200. */
  readonly success?: SuccessCheck
  /** Every secret of the request: redacted from anything shown. */
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
}

export const classify = (
  definition: ConnectorDefinition,
  observation: Observation,
  context: ClassifyContext,
): Verdict => {
  switch (observation.kind) {
    case "response":
      return withRetryAdvice(
        classifyResponse(
          definition,
          observation.facts,
          context.success ?? expectationCheck(undefined),
          context.secrets,
        ),
        observation.stopped,
      )
    case "network": {
      const outcome = isTimeout(observation.problem)
        ? "timeout"
        : observation.problem === "address_blocked"
          ? "address_not_allowed"
          : "unreachable"
      return withRetryAdvice(
        verdict(outcome, observation.problem, observation.problem, {
          message: `${OUTCOME_INFO[outcome].message} (${redactText(observation.detail, context.secrets)})`,
        }),
        observation.stopped,
      )
    }
    case "held-back": {
      const retryAfterSeconds = seconds(observation.waitMs)
      return verdict("rate_limited", "rate_limit_hold", "held back by the vendor's last wait", {
        message: `${OUTCOME_INFO.rate_limited.message} It asked Keyway to wait; nothing was sent. Try again in ${retryAfterSeconds} s.`,
        retryAfterSeconds,
      })
    }
    case "deadline":
      return verdict("timeout", "deadline_exceeded", "deadline", {
        message: `The vendor did not answer within ${seconds(observation.budgetMs)} s, the time this check may take.`,
      })
  }
}
