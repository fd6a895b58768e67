/**
 * When a saved credential expires, and what to say as the day comes. A date the customer gives is
 * exact. Otherwise, when the definition declares the vendor's default lifetime (`expires.afterDays`),
 * the expiry is counted from the day the credential is saved: Keyway cannot see when it was created,
 * so the estimate is never earlier than the truth by more than the key's age at saving.
 */
import type { ConnectorDefinition } from "./definition.ts"

const DAY_MS = 86_400_000

/** Warnings begin this many days ahead, and grow more urgent at each step. */
export const EXPIRY_WARNING_DAYS = [30, 7, 1] as const

export interface Expiry {
  /** YYYY-MM-DD, the last day the credential works (UTC). */
  readonly date: string
  /** `given` by the customer, or `estimated` from the vendor's default lifetime. */
  readonly source: "given" | "estimated"
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/** The expiry of credentials saved at `now`: the date given, else the shortest declared lifetime. */
export const expiryAtSave = (
  definition: ConnectorDefinition,
  given: string | undefined,
  now: number,
): Expiry | undefined => {
  if (given) return { date: given, source: "given" }
  const lifetimes = definition.credentials.flatMap((c) => (c.expires?.afterDays ? [c.expires.afterDays] : []))
  if (lifetimes.length === 0) return undefined
  return { date: isoDay(now + Math.min(...lifetimes) * DAY_MS), source: "estimated" }
}

/** Whole days from `now` until the start of the expiry day (UTC); 0 on the day itself, negative after. */
export const daysUntil = (date: string, now: number): number =>
  Math.ceil((Date.parse(`${date}T00:00:00Z`) - now) / DAY_MS)

/** What to tell the customer about an expiry `days` away, or undefined while it is further than 30 days. */
export const expiryWarning = (what: string, expiry: Expiry, now: number): string | undefined => {
  const days = daysUntil(expiry.date, now)
  const [first, week, last] = EXPIRY_WARNING_DAYS
  const estimated = expiry.source === "estimated" ? " (estimated from the vendor's default lifetime)" : ""
  if (days > first) return undefined
  if (days < 0) return `${what} expired on ${expiry.date}${estimated}. Create a new one and update the connection.`
  if (days <= last) {
    return `${what} expires ${days === 0 ? "today" : "tomorrow"}, ${expiry.date}${estimated}. Create a new one now.`
  }
  const when = `in ${days} days, on ${expiry.date}${estimated}`
  return days <= week
    ? `${what} expires within a week: ${when}. Create a new one now.`
    : `${what} expires ${when}. Create a new one before then.`
}

/** The name a warning gives the expiring credential. */
export const expiringCredential = (definition: ConnectorDefinition): string =>
  definition.credentials.find((c) => c.expires)?.label ?? "The credential"
