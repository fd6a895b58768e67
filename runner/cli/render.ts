/** How a TestResult reads on a terminal. JSON output is the TestResult itself. */
import type { TestResult } from "../check/check.ts"

const attemptsLine = (result: TestResult): string =>
  result.attempts
    .map((a) => {
      const what = a.status !== undefined ? String(a.status) : (a.error ?? "?")
      return a.waitMs !== undefined ? `${what} (waited ${(a.waitMs / 1000).toFixed(1)} s, ${a.waitSetBy})` : what
    })
    .join(" → ")

export const renderResult = (name: string, result: TestResult): string => {
  const keys = Object.entries(result.fingerprints)
    .map(([key, print]) => `${key} ${print}`)
    .join(", ")
  const lines = [`${name}: ${result.outcome}`, `  ${result.message}`]
  if (result.outcome !== "connected") lines.push(`  What to do: ${result.remediation}`)
  if (result.vendorMessage) lines.push(`  ${name} said: "${result.vendorMessage}"`)
  lines.push(
    `  ${keys ? `${keys} · ` : ""}${result.attempts.length} attempt${result.attempts.length === 1 ? "" : "s"}: ${attemptsLine(result)} · ${result.durationMs} ms`,
  )
  for (const warning of result.warnings) lines.push(`  Warning: ${warning}`)
  return `${lines.join("\n")}\n`
}
