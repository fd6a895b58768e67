/**
 * The one reader of rate-limit headers. Every form vendors use is read, whatever the definition says
 * the vendor sends, into two facts: how long the vendor asks us to wait (the strictest, that is the
 * longest, wait wins), and the limit it states, if any. The retry decision uses the first, the pacer
 * both; neither parses a header itself.
 *
 * Waits:
 * - `Retry-After` as delay-seconds or as an HTTP-date (RFC 9110 §10.2.3)
 * - `X-RateLimit-Reset` as epoch seconds (or ms), or as seconds to wait
 * - the IETF `RateLimit` field (`"policy";r=0;t=5`), and the older draft's `RateLimit-Reset`
 *
 * Stated limits: the IETF `RateLimit-Policy` (`"default";q=100;w=60`, the strictest item wins), or
 * `X-RateLimit-Limit` with a reset given as seconds to wait.
 *
 * The clock is passed in (`now`, in ms): parsing is pure.
 */

import { ENGINE_DEFAULTS } from "./defaults.ts"
import type { CustomWaitHeader } from "./definition.ts"

export type WaitSource =
  | "retry-after-seconds"
  | "retry-after-date"
  | "x-ratelimit-reset-epoch"
  | "x-ratelimit-reset-delta"
  | "ratelimit"
  | "ratelimit-reset"
  | "vendor-header"

export interface RequestedWait {
  readonly delayMs: number
  /** Which header set the delay, for the attempt log and the CLI. */
  readonly source: WaitSource
}

export interface StatedLimit {
  /** Requests per second the vendor allows. */
  readonly ratePerSecond: number
  /** Requests left in the current window, when the vendor says. */
  readonly remaining?: number
  /** Seconds until the window resets, when the vendor says. */
  readonly resetSeconds?: number
}

export interface RateLimitFacts {
  readonly wait: RequestedWait | undefined
  readonly stated: StatedLimit | undefined
}

export const MAX_HEADER_WAIT_MS = ENGINE_DEFAULTS.maxHeaderWaitMs

export type HeaderLookup = (name: string) => string | undefined

const clamp = (ms: number): number => Math.min(MAX_HEADER_WAIT_MS, Math.max(0, Math.ceil(ms)))

const DELTA_SECONDS = /^\s*(\d{1,12})\s*$/
const NUMBER = /^\s*(\d{1,16}(?:\.\d+)?)\s*$/

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

/** RFC 9110 §5.6.7's three forms; each means GMT, whatever zone the machine is in. */
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/
const RFC_850 = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/

/** An HTTP-date as ms since the epoch, in UTC; undefined when the text is none of the three forms. */
export const parseHttpDate = (text: string, now: number): number | undefined => {
  const value = text.trim()
  const at = (
    year: number,
    month: string | undefined,
    day: string | undefined,
    time: ReadonlyArray<string | undefined>,
  ) => {
    const index = MONTHS.indexOf((month ?? "").toLowerCase())
    if (index < 0) return undefined
    const [hours, minutes, seconds] = time.map(Number)
    return Date.UTC(year, index, Number(day), hours, minutes, seconds)
  }
  let match = IMF_FIXDATE.exec(value)
  if (match) return at(Number(match[3]), match[2], match[1], [match[4], match[5], match[6]])
  match = RFC_850.exec(value)
  if (match) {
    // A two-digit year more than 50 years ahead is in the past century (RFC 9110 §5.6.7).
    const twoDigits = Number(match[3])
    const thisYear = new Date(now).getUTCFullYear()
    const year = 2000 + twoDigits > thisYear + 50 ? 1900 + twoDigits : 2000 + twoDigits
    return at(year, match[2], match[1], [match[4], match[5], match[6]])
  }
  match = ASCTIME.exec(value)
  if (match) return at(Number(match[6]), match[1], match[2]?.trim(), [match[3], match[4], match[5]])
  return undefined
}

const retryAfter = (value: string | undefined, now: number): RequestedWait | undefined => {
  if (value === undefined) return undefined
  const seconds = DELTA_SECONDS.exec(value)
  if (seconds) return { delayMs: clamp(Number(seconds[1]) * 1000), source: "retry-after-seconds" }
  const at = parseHttpDate(value, now)
  return at === undefined ? undefined : { delayMs: clamp(at - now), source: "retry-after-date" }
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

/** One item of an IETF structured-field list: `"name";key=1;other=2`. Only whole-number parameters are kept. */
interface FieldItem {
  readonly name: string
  readonly params: ReadonlyMap<string, number>
}

const PARAM = /;\s*([a-z][a-z0-9_-]*)\s*=\s*(\d{1,12})(?![\d.])/g

const NO_ITEMS: ReadonlyArray<FieldItem> = []

/** Most answers carry no such header: every response is read, so that case costs nothing. */
const parseField = (value: string | undefined): ReadonlyArray<FieldItem> =>
  value === undefined || value === ""
    ? NO_ITEMS
    : value
        .split(",")
        .filter((item) => item.trim() !== "")
        .map((item) => ({
          name: (item.split(";")[0] ?? "").trim().replace(/^"|"$/g, ""),
          params: new Map([...item.matchAll(PARAM)].map((m) => [m[1] as string, Number(m[2])] as const)),
        }))

/** Only an exhausted quota (r=0) asks for a wait; the longest such reset wins. */
const ietfWait = (items: ReadonlyArray<FieldItem>): RequestedWait | undefined => {
  const resets = items.flatMap((item) =>
    item.params.get("r") === 0 && item.params.has("t") ? [item.params.get("t") as number] : [],
  )
  return resets.length === 0 ? undefined : { delayMs: clamp(Math.max(...resets) * 1000), source: "ratelimit" }
}

const olderDraftReset = (remaining: string | undefined, reset: string | undefined): RequestedWait | undefined => {
  const seconds = reset === undefined ? null : DELTA_SECONDS.exec(reset)
  if (!seconds || (remaining !== undefined && remaining.trim() !== "0")) return undefined
  return { delayMs: clamp(Number(seconds[1]) * 1000), source: "ratelimit-reset" }
}

const longest = (waits: ReadonlyArray<RequestedWait | undefined>): RequestedWait | undefined =>
  waits.reduce<RequestedWait | undefined>(
    (best, wait) => (wait !== undefined && (best === undefined || wait.delayMs > best.delayMs) ? wait : best),
    undefined,
  )

/** The strictest stated policy (fewest requests per second), with the matching current quota. */
const ietfLimit = (policies: ReadonlyArray<FieldItem>, current: ReadonlyArray<FieldItem>): StatedLimit | undefined => {
  let strictest: { item: FieldItem; rate: number } | undefined
  for (const item of policies) {
    const quota = item.params.get("q")
    const window = item.params.get("w")
    if (quota === undefined || !window) continue
    const rate = quota / window
    if (!strictest || rate < strictest.rate) strictest = { item, rate }
  }
  if (!strictest) return undefined
  const now = current.find((item) => item.name === strictest.item.name) ?? current[0]
  const remaining = now?.params.get("r")
  const resetSeconds = now?.params.get("t")
  return {
    ratePerSecond: strictest.rate,
    ...(remaining !== undefined ? { remaining } : {}),
    ...(resetSeconds !== undefined ? { resetSeconds } : {}),
  }
}

const xRateLimitLimit = (header: HeaderLookup): StatedLimit | undefined => {
  const limit = Number(header("x-ratelimit-limit"))
  const remaining = Number(header("x-ratelimit-remaining") ?? Number.NaN)
  const reset = Number(header("x-ratelimit-reset"))
  // Only a reset given as seconds to wait names a window; an epoch says when, not how long.
  if (!(limit > 0 && reset > 0 && reset < 1e9)) return undefined
  return { ratePerSecond: limit / reset, ...(Number.isFinite(remaining) ? { remaining } : {}), resetSeconds: reset }
}

/** A wait header under a vendor's own name, read in the unit its definition declares. */
const customWait = (wait: CustomWaitHeader, value: string | undefined, now: number): RequestedWait | undefined => {
  if (value === undefined) return undefined
  const number = NUMBER.exec(value)
  const delay = (ms: number): RequestedWait => ({ delayMs: clamp(ms), source: "vendor-header" })
  switch (wait.unit) {
    case "seconds":
      return number ? delay(Number(number[1]) * 1000) : undefined
    case "milliseconds":
      return number ? delay(Number(number[1])) : undefined
    case "epochSeconds":
      return number ? delay(Number(number[1]) * 1000 - now) : undefined
    case "epochMilliseconds":
      return number ? delay(Number(number[1]) - now) : undefined
    case "httpDate": {
      const at = parseHttpDate(value, now)
      return at === undefined ? undefined : delay(at - now)
    }
  }
}

/**
 * Everything the rate-limit headers of one response say. `custom` are the wait headers a definition
 * declares under other names (`x-rate-limit-reset` in epoch seconds): each is read in its own unit.
 */
export const readRateLimitHeaders = (
  header: HeaderLookup,
  now: number,
  custom: ReadonlyArray<CustomWaitHeader> = [],
): RateLimitFacts => {
  const current = parseField(header("ratelimit"))
  return {
    wait: longest([
      retryAfter(header("retry-after"), now),
      xRateLimitReset(header("x-ratelimit-reset"), now),
      ietfWait(current),
      olderDraftReset(header("ratelimit-remaining"), header("ratelimit-reset")),
      ...custom.map((wait) => customWait(wait, header(wait.name), now)),
    ]),
    stated: ietfLimit(parseField(header("ratelimit-policy")), current) ?? xRateLimitLimit(header),
  }
}

/** The longest wait any header asks for, or undefined when none asks. */
export const requestedWait = (header: HeaderLookup, now: number): RequestedWait | undefined =>
  readRateLimitHeaders(header, now).wait

/** A header lookup over a plain record (undici's response headers), case-insensitive. */
export const headerLookup =
  (headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>): HeaderLookup =>
  (name) => {
    const value = headers[name.toLowerCase()]
    return Array.isArray(value) ? value.join(", ") : (value as string | undefined)
  }
