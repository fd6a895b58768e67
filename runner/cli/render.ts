/** How a check reads on a terminal. JSON output is the CheckResult itself. */
import type { CheckResult } from "../check/check.ts"
import type { ConnectionView } from "../vault/connections.ts"

/** "1 page", "3 pages", "1,200 records": a count and its noun, in the plural unless it is 1. */
export const counted = (n: number, noun: string): string => `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`

const attemptsLine = (result: CheckResult): string =>
  result.attempts
    .map((a) => {
      const what = a.status !== undefined ? String(a.status) : (a.error ?? "?")
      return a.waitMs !== undefined ? `${what} (waited ${(a.waitMs / 1000).toFixed(1)} s, ${a.waitSetBy})` : what
    })
    .join(" → ")

export const renderResult = (name: string, result: CheckResult): string => {
  const { verdict } = result
  const keys = Object.entries(result.fingerprints)
    .map(([key, print]) => `${key} ${print}`)
    .join(", ")
  const lines = [`${name}: ${verdict.outcome}`, `  ${verdict.message}`]
  if (verdict.outcome !== "connected") lines.push(`  What to do: ${verdict.remediation}`)
  if (verdict.vendorMessage) lines.push(`  ${name} said: "${verdict.vendorMessage}"`)
  lines.push(
    `  ${keys ? `${keys} · ` : ""}${result.attempts.length === 0 ? "no request sent" : `${counted(result.attempts.length, "attempt")}: ${attemptsLine(result)}`} · ${result.durationMs} ms`,
  )
  for (const warning of result.warnings) lines.push(`  Warning: ${warning}`)
  return `${lines.join("\n")}\n`
}

/** A saved connection's expiry, when it has one: the date, and how Keyway knows it. */
export const expiryLine = (connection: Pick<ConnectionView, "expiresAt" | "expirySource">): string =>
  connection.expiresAt
    ? connection.expirySource === "estimated"
      ? `  Expires on ${connection.expiresAt}, by the vendor's default lifetime counted from today; if the key is older, connect with --expires for the exact date.\n`
      : `  Expires on ${connection.expiresAt}.\n`
    : ""
