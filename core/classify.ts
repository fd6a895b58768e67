/**
 * Turning one HTTP response into one outcome: the definition's expectations for a success, then its
 * own error rules in order, then Keyway's default table. Pure: the caller reads the response.
 */
import type { ConnectorDefinition, ErrorRule, Expectation, JsonMatch, StatusMatch } from "./definition.ts"
import { jsonTypeOf, select } from "./json-path.ts"
import { defaultOutcomeForStatus, OUTCOME_INFO, type Outcome } from "./outcomes.ts"
import type { HeaderLookup } from "./rate-limit-headers.ts"

export interface ResponseFacts {
  readonly status: number
  readonly header: HeaderLookup
  readonly text: string
  /** The parsed body, or undefined when it is not JSON. */
  readonly json: unknown
  readonly truncated: boolean
}

export interface Classification {
  readonly outcome: Outcome
  readonly message: string
  readonly remediation: string
  /** Why: `rule 2`, `default table`, `expectation: activity is not an array`... */
  readonly reason: string
  /** The vendor's own message, raw: the caller cleans and redacts it before showing it. */
  readonly vendorMessage: string | undefined
}

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

/** Why a successful status still failed its expectation, or undefined when it passed. */
export const unmetExpectation = (expect: Expectation | undefined, facts: ResponseFacts): string | undefined => {
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

export const vendorMessageOf = (definition: ConnectorDefinition, facts: ResponseFacts): string | undefined => {
  for (const path of definition.errors.messagePaths ?? []) {
    const found = select(facts.json, path).find((value) => typeof value === "string" && value.trim() !== "")
    if (typeof found === "string") return found
  }
  return undefined
}

const looksLikeHtml = (facts: ResponseFacts): boolean =>
  /^\s*</.test(facts.text) || (facts.header("content-type") ?? "").includes("html")

export const classifyResponse = (
  definition: ConnectorDefinition,
  facts: ResponseFacts,
  expect: Expectation | undefined,
): Classification => {
  const vendorMessage = vendorMessageOf(definition, facts)
  const of = (outcome: Outcome, reason: string, message?: string, remediation?: string): Classification => ({
    outcome,
    message: message ?? OUTCOME_INFO[outcome].message,
    remediation: remediation ?? OUTCOME_INFO[outcome].remediation,
    reason,
    vendorMessage,
  })

  if (facts.truncated) {
    return of(
      "unexpected_response",
      "body too large",
      "The vendor's response was larger than Keyway accepts, so it was cut off.",
      "Check the base URL; an API test request should answer with a small body.",
    )
  }
  if (facts.status >= 200 && facts.status < 300) {
    const unmet = unmetExpectation(expect, facts)
    if (unmet === undefined) return of("connected", "expectation met")
    return of(
      "unexpected_response",
      `expectation: ${unmet}`,
      looksLikeHtml(facts)
        ? "The vendor answered with a web page instead of API data."
        : `The vendor answered ${facts.status}, but ${unmet}.`,
      "This usually means a wrong base URL, region or server: check the settings.",
    )
  }
  if (facts.status >= 300 && facts.status < 400) {
    const location = facts.header("location")
    let target = "another address"
    try {
      if (location) target = new URL(location, "http://relative.invalid").origin
    } catch {
      // an unparseable Location says nothing useful
    }
    return of(
      "unexpected_response",
      "redirect",
      `The vendor redirected the request to ${target === "http://relative.invalid" ? "another path" : target}. Keyway does not follow redirects with credentials.`,
      "Check the base URL, region or server setting: an API base URL should not redirect.",
    )
  }
  const index = definition.errors.rules.findIndex((rule) => ruleMatches(rule, facts))
  const rule = definition.errors.rules[index]
  if (rule) return of(rule.outcome, `rule ${index + 1}`, rule.message, rule.remediation)
  const outcome = defaultOutcomeForStatus(facts.status)
  if (outcome === "server_error" && looksLikeHtml(facts)) {
    return of(
      outcome,
      "default table",
      `The vendor (or a proxy in front of it) answered ${facts.status} with an error page.`,
    )
  }
  return of(outcome, "default table")
}
