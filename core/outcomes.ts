/**
 * The outcome taxonomy: every save & test result, every sync failure and every error rule in a
 * connector definition ends in exactly one of these outcomes.
 *
 * Each outcome has a second axis, `actor` (who must act), which drives CLI exit codes:
 * - `none`: nothing to do, it worked
 * - `user`: the customer must fix something (a key, a plan, a setting)
 * - `retry`: nothing is wrong with the configuration; try again later
 * - `vendor`: the vendor answered in a way Keyway does not understand
 */

export const OUTCOMES = [
  "connected",
  "invalid_credentials",
  "expired_credentials",
  "insufficient_permissions",
  "plan_not_eligible",
  "ip_not_allowed",
  "rate_limited",
  "not_found",
  "unreachable",
  "timeout",
  "server_error",
  "unexpected_response",
] as const

export type Outcome = (typeof OUTCOMES)[number]

export type Actor = "none" | "user" | "retry" | "vendor"

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
 * The fallback table for statuses that a definition does not map itself.
 * A definition's own `errors:` rules are tried first.
 */
export const defaultOutcomeForStatus = (status: number): Outcome => {
  if (status >= 200 && status < 300) return "connected"
  switch (status) {
    case 401:
      return "invalid_credentials"
    case 403:
      return "insufficient_permissions"
    case 404:
    case 410:
      return "not_found"
    case 408:
      return "timeout"
    case 429:
      return "rate_limited"
  }
  if (status >= 500 && status < 600) return status === 504 ? "timeout" : "server_error"
  return "unexpected_response"
}
