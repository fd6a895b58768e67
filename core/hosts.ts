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

export const isLoopbackHost = (host: string): boolean => {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase()
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare)
}
