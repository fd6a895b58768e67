/**
 * The one table of network failures: each undici or Node error code, what it means, and whether a
 * read-only request may be retried after it. Whatever code is not listed is a plain `network_error`,
 * never retried. The transport only names the code; this table interprets it.
 */

export type NetworkProblem =
  | "connect_timeout"
  | "headers_timeout"
  | "body_timeout"
  | "connection_reset"
  | "connection_refused"
  | "dns_failure"
  | "tls_failure"
  /** The host is, or resolves to, an address credentials may not go to: refused before connecting. */
  | "address_blocked"
  | "network_error"

export interface NetworkError {
  readonly problem: NetworkProblem
  /** A read-only request may be sent again after this. */
  readonly retryable: boolean
}

/** The code of the error the transport raises when it refuses an address. */
export const ADDRESS_BLOCKED_CODE = "ERR_KEYWAY_ADDRESS_BLOCKED"

const entry = (problem: NetworkProblem, retryable: boolean): NetworkError => ({ problem, retryable })

export const NETWORK_ERRORS: Readonly<Record<string, NetworkError>> = {
  UND_ERR_CONNECT_TIMEOUT: entry("connect_timeout", false),
  UND_ERR_HEADERS_TIMEOUT: entry("headers_timeout", false),
  UND_ERR_BODY_TIMEOUT: entry("body_timeout", false),
  // The server dropped a connection it had kept alive, or reset it: sending again is safe for a read.
  ECONNRESET: entry("connection_reset", true),
  EPIPE: entry("connection_reset", true),
  UND_ERR_SOCKET: entry("connection_reset", true),
  UND_ERR_CLOSED: entry("connection_reset", false),
  // A server restarting refuses for a moment; a wrong host refuses for good, which the budget bounds.
  ECONNREFUSED: entry("connection_refused", true),
  ENOTFOUND: entry("dns_failure", false),
  EAI_AGAIN: entry("dns_failure", false),
  // Keyway's own: the transport's address check refused the host (see core/addresses.ts).
  [ADDRESS_BLOCKED_CODE]: entry("address_blocked", false),
}

const TLS = entry("tls_failure", false)
const UNKNOWN = entry("network_error", false)

export const networkErrorFor = (code: string): NetworkError =>
  NETWORK_ERRORS[code] ?? (code.startsWith("ERR_TLS") || code.includes("CERT") ? TLS : UNKNOWN)

/** Whether a problem is a kind of timeout (the vendor was too slow) rather than unreachable. */
export const isTimeout = (problem: NetworkProblem): boolean =>
  problem === "connect_timeout" || problem === "headers_timeout" || problem === "body_timeout"
