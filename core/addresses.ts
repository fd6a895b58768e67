/**
 * Where credentials may go, by address: the one rule for the self-hosted URL check (on the written
 * host) and for the transport's check at connect time (on every address a name resolves to).
 *
 * Only ordinary public unicast addresses are allowed. `ipaddr.js` names every special-purpose range
 * of the IANA registries (loopback, private, link-local, site-local, unique-local, multicast,
 * broadcast, benchmarking, documentation, NAT64, 6to4, Teredo, IPv4-mapped and -compatible...), so
 * anything it does not call `unicast` is refused. Names that only make sense inside a network
 * (`localhost`, `*.localhost`, `*.internal`) are refused whatever they resolve to.
 */
import ipaddr from "ipaddr.js"

/** A URL's host name without brackets or a trailing dot, lower-cased. */
const bare = (host: string): string =>
  host
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase()

/** The host is an IP address literal (as WHATWG URL writes one: dotted IPv4, or IPv6). */
export const isIpLiteral = (host: string): boolean => {
  const value = bare(host)
  return value.includes(":") ? ipaddr.IPv6.isValid(value) : ipaddr.IPv4.isValidFourPartDecimal(value)
}

/**
 * Ranges `ipaddr.js` calls unicast that are not: the deprecated IPv4-compatible IPv6 form, `::a.b.c.d`,
 * which WHATWG URL writes as `::7f00:1` for `[::127.0.0.1]`.
 */
const ALSO_SPECIAL = [ipaddr.parseCIDR("::/96")]

/** An address credentials may be sent to: public unicast, nothing special-purpose. */
export const addressAllowed = (address: string): boolean => {
  try {
    const parsed = ipaddr.parse(bare(address))
    return (
      parsed.range() === "unicast" &&
      !ALSO_SPECIAL.some(([range, bits]) => parsed.kind() === range.kind() && parsed.match(range, bits))
    )
  } catch {
    return false
  }
}

const INTERNAL_NAMES = [/^localhost$/, /\.localhost$/, /\.internal$/, /\.local$/, /\.home\.arpa$/]

/** Why a host may not receive credentials (a literal address or a name), or undefined when it may. */
export const hostRefusal = (host: string): string | undefined => {
  const value = bare(host)
  if (isIpLiteral(value)) {
    return addressAllowed(value) ? undefined : `"${host}" is a loopback, private or special-purpose address`
  }
  return INTERNAL_NAMES.some((pattern) => pattern.test(value))
    ? `"${host}" is a name for the local machine or an internal network`
    : undefined
}
