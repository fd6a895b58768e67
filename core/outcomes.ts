/**
 * The outcome model. Every save & test, every sync page and every error rule ends in one `Verdict`:
 * an outcome from the closed list below, who must act, a stable machine `code`, why, and what to
 * tell the customer. `classify.ts` is the one place that makes a Verdict.
 *
 * `actor` (who must act) drives CLI exit codes:
 * - `none`: nothing to do, it worked
 * - `user`: the customer must fix something (a key, a plan, a setting)
 * - `retry`: nothing is wrong with the configuration; try again later
 * - `vendor`: the vendor answered in a way Keyway does not understand
 */
import type { NetworkProblem } from "./network-errors.ts"

/** The outcomes an error rule may map a vendor's answer to. */
export const RULE_OUTCOMES = [
  "connected",
  "invalid_credentials",
  "expired_credentials",
  "insufficient_permissions",
  "plan_not_eligible",
  "ip_not_allowed",
  "address_not_allowed",
  "rate_limited",
  "not_found",
  "unreachable",
  "timeout",
  "server_error",
  "unexpected_response",
] as const

/** Every outcome: the rules' ones, and `not_tested`, which only a check without a test request gives. */
export const OUTCOMES = [...RULE_OUTCOMES, "not_tested"] as const

export type Outcome = (typeof OUTCOMES)[number]

export type Actor = "none" | "user" | "retry" | "vendor"

/**
 * What a failure judges. `credential`: the key itself (a sync marks the connection). `request`: only
 * the one request that failed, such as an unknown view or a bad parameter (a sync leaves the
 * connection alone and reports a parameter problem).
 */
export type Scope = "credential" | "request"

/** The outcomes that are about the key or its account, when no rule says otherwise. */
const CREDENTIAL_OUTCOMES: ReadonlySet<Outcome> = new Set([
  "invalid_credentials",
  "expired_credentials",
  "insufficient_permissions",
  "plan_not_eligible",
  "ip_not_allowed",
])

export const defaultScopeFor = (outcome: Outcome): Scope | undefined =>
  CREDENTIAL_OUTCOMES.has(outcome) ? "credential" : undefined

export interface OutcomeInfo {
  readonly actor: Actor
  /** Default user-facing message, used when a definition's rule gives none. */
  readonly message: string
  /** Default remediation: what the customer should do next. */
  readonly remediation: string
}

export const OUTCOME_INFO: { readonly [K in Outcome]: OutcomeInfo } = {
  connected: {
    actor: "none",
    message: "Connected: the vendor accepted the credentials.",
    remediation: "Nothing to do.",
  },
  not_tested: {
    actor: "user",
    message: "Not tested: this connector has no test request, so only the credentials' format was checked.",
    remediation: "Check the credentials by hand with the vendor, or add a test request to the connector definition.",
  },
  invalid_credentials: {
    actor: "user",
    message: "The vendor rejected the credentials.",
    remediation: "Check that the key was copied whole and has not been revoked, or create a new one.",
  },
  expired_credentials: {
    actor: "user",
    message: "The credentials have expired.",
    remediation: "Create a new key or token and connect again.",
  },
  insufficient_permissions: {
    actor: "user",
    message: "The credentials are valid but lack the permission this request needs.",
    remediation: "Use a key that belongs to a user or role with read access to the reports.",
  },
  plan_not_eligible: {
    actor: "user",
    message: "The vendor account's plan does not include API access to this feature.",
    remediation: "Check the account's subscription tier with the vendor.",
  },
  ip_not_allowed: {
    actor: "user",
    message: "The vendor refused the request because of the key's IP restriction.",
    remediation: "Allow Keyway's public IP address on the key, or remove the restriction.",
  },
  address_not_allowed: {
    actor: "user",
    message:
      "Keyway does not send credentials to this server: its address is loopback, private or otherwise not public.",
    remediation: "Use the server's public https address.",
  },
  rate_limited: {
    actor: "retry",
    message: "The vendor is throttling requests. The key was not rejected.",
    remediation: "Try again later; Keyway honours the vendor's wait headers.",
  },
  not_found: {
    actor: "user",
    message: "The vendor has no such endpoint at this base URL.",
    remediation: "Check the region, server URL or subdomain setting.",
  },
  unreachable: {
    actor: "retry",
    message: "The vendor's server could not be reached.",
    remediation: "Check the server URL and network access, then try again.",
  },
  timeout: {
    actor: "retry",
    message: "The vendor did not answer in time.",
    remediation: "Try again later.",
  },
  server_error: {
    actor: "retry",
    message: "The vendor's server failed to answer the request.",
    remediation: "Try again later; if it persists, check the vendor's status page.",
  },
  unexpected_response: {
    actor: "vendor",
    message: "The vendor answered in a way Keyway does not recognise.",
    remediation: "Check the base URL; if it is right, report this to Keyway with the HTTP status.",
  },
}

/**
 * Keyway's default table: the outcome of a status that no rule of a definition maps. Tried in order;
 * a definition's own `errors.rules` come first. The docs pages render this same table.
 */
export const DEFAULT_STATUS_TABLE: ReadonlyArray<{
  readonly status: number | "2xx" | "5xx"
  readonly outcome: Outcome
  /** When the status judges something other than its outcome's default scope. */
  readonly scope?: Scope
}> = [
  { status: "2xx", outcome: "connected" },
  // A 400 is about the request itself: its parameters, not the key.
  { status: 400, outcome: "unexpected_response", scope: "request" },
  { status: 401, outcome: "invalid_credentials" },
  { status: 403, outcome: "insufficient_permissions" },
  { status: 404, outcome: "not_found" },
  { status: 408, outcome: "timeout" },
  { status: 410, outcome: "not_found" },
  { status: 429, outcome: "rate_limited" },
  { status: 504, outcome: "timeout" },
  { status: "5xx", outcome: "server_error" },
]

/** Any status the table does not list. */
export const DEFAULT_OTHER_OUTCOME: Outcome = "unexpected_response"

/** The default table's row for a status: its outcome, and what it judges. */
export const defaultForStatus = (status: number): { readonly outcome: Outcome; readonly scope?: Scope } =>
  DEFAULT_STATUS_TABLE.find((row) =>
    typeof row.status === "number" ? row.status === status : Math.floor(status / 100) === Number(row.status[0]),
  ) ?? { outcome: DEFAULT_OTHER_OUTCOME }

export const defaultOutcomeForStatus = (status: number): Outcome => defaultForStatus(status).outcome

/**
 * A verdict's stable machine code. A vendor's answer that a rule or the default table maps has the
 * outcome's own name; the other codes name what Keyway itself saw, finer than the outcome.
 */
export type VerdictCode =
  | Outcome
  | NetworkProblem
  /** A vendor's earlier wait still holds this key back, and waiting would break the budget: nothing sent. */
  | "rate_limit_hold"
  /** The check's one deadline passed before the vendor answered. */
  | "deadline_exceeded"
  | "redirect_not_followed"
  | "body_too_large"
  /** A 2xx whose body is not what the request expects (wrong base URL, a login page...). */
  | "expectation_failed"

export interface Verdict {
  readonly outcome: Outcome
  /** Who must act: none, user, retry (try later) or vendor. */
  readonly actor: Actor
  readonly code: VerdictCode
  /** Why this verdict: `rule 2`, `default table`, `budget_exceeded`, `expectation: activity is not an array`... */
  readonly reason: string
  readonly message: string
  readonly remediation: string
  readonly httpStatus?: number
  /** The vendor's own message, with secrets redacted and control characters removed. */
  readonly vendorMessage?: string
  /** For `rate_limited`: when to try again. */
  readonly retryAfterSeconds?: number
  /** What the failure judges: the credential, or only this request. Absent: neither (the vendor, the network, a setting). */
  readonly scope?: Scope
}
