/**
 * Host allow-lists: a definition lists the hosts its credentials may be sent to, and every base URL
 * built from customer settings is checked against that list before a request is made.
 */
const escapeRegExp = (text: string): string => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&")

/** Allow-list patterns come only from definitions: each is compiled once, on first use. */
const compiled = new Map<string, RegExp>()

/** `*` matches exactly one DNS label (letters, digits, hyphens), never a dot. */
export const hostPatternToRegExp = (pattern: string): RegExp => {
  let regExp = compiled.get(pattern)
  if (!regExp) {
    regExp = new RegExp(`^${escapeRegExp(pattern.toLowerCase()).replace(/\*/g, "[a-z0-9-]+")}$`)
    compiled.set(pattern, regExp)
  }
  return regExp
}

export const hostMatchesAllowList = (host: string, allowedHosts: ReadonlyArray<string>): boolean =>
  allowedHosts.some((pattern) => hostPatternToRegExp(pattern).test(host.toLowerCase()))

/**
 * Loopback, private, link-local and unspecified addresses. A self-hosted server URL may name any
 * public host, but never one of these: that would let a setting aim requests at internal services.
 */
export const isInternalAddress = (host: string): boolean => {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase()
  if (bare === "localhost" || bare.endsWith(".localhost")) return true
  // Host names here come from WHATWG URL parsing, which writes IPv4 as dotted decimal and IPv6 compressed.
  const family = /^\d{1,3}(\.\d{1,3}){3}$/.test(bare) ? 4 : bare.includes(":") ? 6 : 0
  if (family === 4) {
    const [a = 0, b = 0] = bare.split(".").map(Number)
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    )
  }
  if (family === 6) {
    return (
      bare === "::" ||
      bare === "::1" ||
      bare.startsWith("fc") ||
      bare.startsWith("fd") ||
      bare.startsWith("fe80") ||
      bare.startsWith("::ffff:")
    )
  }
  return false
}

export const isLoopbackHost = (host: string): boolean => {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase()
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare)
}
