/**
 * Reading how long a vendor asks us to wait. Every form vendors use is read, whatever the definition
 * says the vendor sends, and the strictest (longest) wait wins:
 * - `Retry-After` as delay-seconds or as an HTTP-date (RFC 9110 §10.2.3)
 * - `X-RateLimit-Reset` as epoch seconds (or ms), or as seconds to wait
 * - the IETF `RateLimit` field (`"policy";r=0;t=5`), and the older draft's `RateLimit-Reset`
 *
 * The clock is passed in (`now`, in ms): parsing is pure.
 */

export type WaitSource =
  | "retry-after-seconds"
  | "retry-after-date"
  | "x-ratelimit-reset-epoch"
  | "x-ratelimit-reset-delta"
  | "ratelimit"
  | "ratelimit-reset"

export interface RequestedWait {
  readonly delayMs: number
  /** Which header set the delay, for the attempt log and the CLI. */
  readonly source: WaitSource
}

/** No header can ask for more than this; a larger value is clamped, never trusted. */
export const MAX_HEADER_WAIT_MS = 24 * 60 * 60 * 1000

export type HeaderLookup = (name: string) => string | undefined

const clamp = (ms: number): number => Math.min(MAX_HEADER_WAIT_MS, Math.max(0, Math.ceil(ms)))

const DELTA_SECONDS = /^\s*(\d{1,12})\s*$/
const NUMBER = /^\s*(\d{1,16}(?:\.\d+)?)\s*$/

const retryAfter = (value: string | undefined, now: number): RequestedWait | undefined => {
  if (value === undefined) return undefined
  const seconds = DELTA_SECONDS.exec(value)
  if (seconds) return { delayMs: clamp(Number(seconds[1]) * 1000), source: "retry-after-seconds" }
  // An HTTP-date names a weekday and a month; bare numbers or ISO strings are not HTTP-dates.
  if (!/[A-Za-z]{3}/.test(value)) return undefined
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : { delayMs: clamp(at - now), source: "retry-after-date" }
}

/** Epoch seconds (or ms) when the number is a plausible moment, otherwise seconds to wait. */
const xRateLimitReset = (value: string | undefined, now: number): RequestedWait | undefined => {
  const match = value === undefined ? null : NUMBER.exec(value)
  if (!match) return undefined
  const number = Number(match[1])
  if (number >= 1e12) return { delayMs: clamp(number - now), source: "x-ratelimit-reset-epoch" }
  if (number >= 1e9) return { delayMs: clamp(number * 1000 - now), source: "x-ratelimit-reset-epoch" }
  return { delayMs: clamp(number * 1000), source: "x-ratelimit-reset-delta" }
}

/** One item of an IETF RateLimit field: its remaining quota `r` and seconds to reset `t`. */
export const parseRateLimitField = (
  value: string | undefined,
): ReadonlyArray<{ readonly remaining: number | undefined; readonly resetSeconds: number | undefined }> =>
  (value ?? "")
    .split(",")
    .filter((item) => item.trim() !== "")
    .map((item) => {
      const param = (name: string) => {
        const match = new RegExp(`;\\s*${name}\\s*=\\s*(\\d{1,12})(?![\\d.])`).exec(item)
        return match ? Number(match[1]) : undefined
      }
      return { remaining: param("r"), resetSeconds: param("t") }
    })

const ietfRateLimit = (value: string | undefined): RequestedWait | undefined => {
  // Only an exhausted quota (r=0) asks for a wait; the longest such reset wins.
  const exhausted = parseRateLimitField(value).filter((item) => item.remaining === 0 && item.resetSeconds !== undefined)
  if (exhausted.length === 0) return undefined
  const seconds = Math.max(...exhausted.map((item) => item.resetSeconds as number))
  return { delayMs: clamp(seconds * 1000), source: "ratelimit" }
}

const olderDraftReset = (remaining: string | undefined, reset: string | undefined): RequestedWait | undefined => {
  const seconds = reset === undefined ? null : DELTA_SECONDS.exec(reset)
  if (!seconds || (remaining !== undefined && remaining.trim() !== "0")) return undefined
  return { delayMs: clamp(Number(seconds[1]) * 1000), source: "ratelimit-reset" }
}

/** The longest wait any header asks for, or undefined when none asks. */
export const requestedWait = (header: HeaderLookup, now: number): RequestedWait | undefined => {
  const candidates = [
    retryAfter(header("retry-after"), now),
    xRateLimitReset(header("x-ratelimit-reset"), now),
    ietfRateLimit(header("ratelimit")),
    olderDraftReset(header("ratelimit-remaining"), header("ratelimit-reset")),
  ].filter((wait): wait is RequestedWait => wait !== undefined)
  return candidates.reduce<RequestedWait | undefined>(
    (longest, wait) => (longest === undefined || wait.delayMs > longest.delayMs ? wait : longest),
    undefined,
  )
}

/** A header lookup over a plain record (undici's response headers), case-insensitive. */
export const headerLookup =
  (headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>): HeaderLookup =>
  (name) => {
    const value = headers[name.toLowerCase()]
    return Array.isArray(value) ? value.join(", ") : (value as string | undefined)
  }
