/**
 * The customer's page for a connector, generated from its definition alone: what you'll need,
 * prerequisites, setup steps, a curl command to verify, rate limits, troubleshooting and security
 * notes. `keyway docs` writes one per connector plus an index; `keyway docs --check` fails when a
 * committed page is stale.
 */

import { ENGINE_DEFAULTS } from "../../core/defaults.ts"
import type { ConnectorDefinition, Credential, ErrorRule, Placement, TestRequest } from "../../core/definition.ts"
import { EXPIRY_WARNING_DAYS } from "../../core/expiry.ts"
import { DEFAULT_OTHER_OUTCOME, DEFAULT_STATUS_TABLE, defaultScopeFor, OUTCOME_INFO } from "../../core/outcomes.ts"
import { placeAuth } from "../../core/placements.ts"
import { backoffDelay, policyFor } from "../../core/retry.ts"
import { signerNamed } from "../../core/signers.ts"
import { type Reference, renderWith } from "../../core/template.ts"

const cell = (text: string): string =>
  text
    .replace(/\|/g, "\\|")
    .replace(/\s*\n\s*/g, " ")
    .trim()
const row = (cells: ReadonlyArray<string>): string => `| ${cells.map(cell).join(" | ")} |`
const tableOf = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [row(header), row(header.map(() => "---")), ...rows.map(row)].join("\n")

const placeholder =
  (definition: ConnectorDefinition) =>
  (reference: Reference): string => {
    if (reference.kind === "builtin") {
      return reference.name === "nowIso"
        ? "YYYY-MM-DDThh:mm:ssZ"
        : reference.name === "nowEpochMs"
          ? "EPOCH_MS"
          : "YYYY-MM-DD"
    }
    if (reference.kind === "invalid") return `<${reference.raw}>`
    if (reference.namespace === "credentials") {
      const credential = definition.credentials.find((c) => c.key === reference.key)
      return `<${credential?.label ?? reference.key}>`
    }
    if (reference.namespace === "settings") {
      const setting = definition.settings?.find((s) => s.key === reference.key)
      return setting?.default ?? `<${setting?.label ?? reference.key}>`
    }
    return `<${reference.key}>`
  }

const shellQuote = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`

/** The test request as a curl command, with placeholders where secrets go. */
export const curlFor = (
  definition: ConnectorDefinition,
  request: TestRequest,
  placements: ReadonlyArray<Placement>,
) => {
  const fill = (template: string) => renderWith(template, placeholder(definition))
  const base = fill(definition.baseUrl.url).replace(/\/$/, "")
  const { placed } = placeAuth(placements, fill)
  const query = [
    ...Object.entries(request.query ?? {}).map(([name, template]) => `${name}=${fill(template)}`),
    ...placed.flatMap((p) => (p.in === "query" ? [`${p.name}=${p.value}`] : [])),
  ]
  const parts = ["curl"]
  if ((request.method ?? "GET") !== "GET") parts.push("-X", request.method ?? "GET")
  for (const [name, template] of Object.entries({ ...definition.headers, ...request.headers })) {
    parts.push("-H", shellQuote(`${name}: ${fill(template)}`))
  }
  for (const p of placed) {
    if (p.in === "header") parts.push("-H", shellQuote(`${p.name}: ${p.value}`))
    if (p.in === "basic") parts.push("-u", shellQuote(`${p.username}:${p.password}`))
  }
  for (const placement of placements) {
    if (placement.in !== "signer") continue
    const filled = Object.fromEntries(Object.entries(placement.with).map(([name, template]) => [name, fill(template)]))
    const options = signerNamed(placement.signer)?.curl?.(filled)
    parts.push(...(options ?? [`# signed by ${placement.signer}, which curl cannot do`]).map(shellQuote))
  }
  if (request.body !== undefined) {
    const fillBody = (value: unknown): unknown =>
      typeof value === "string"
        ? fill(value)
        : Array.isArray(value)
          ? value.map(fillBody)
          : value && typeof value === "object"
            ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fillBody(item)]))
            : value
    parts.push(
      "-H",
      shellQuote("Content-Type: application/json"),
      "--data",
      shellQuote(JSON.stringify(fillBody(request.body))),
    )
  }
  parts.push(shellQuote(`${base}${fill(request.path)}${query.length > 0 ? `?${query.join("&")}` : ""}`))
  return parts.join(" ")
}

const statusText = (status: ErrorRule["status"]): string => (Array.isArray(status) ? status.join(", ") : String(status))

/** Exactly what Keyway does about a credential's expiry, from the same numbers it uses. */
const expiryPolicyText = (expires: NonNullable<Credential["expires"]>): string => {
  const [first, week, last] = EXPIRY_WARNING_DAYS
  const when = expires.afterDays
    ? `Keyway records it as expiring ${expires.afterDays} days after the day you connect it, the vendor's default lifetime (it cannot see when the key was created); if you know the date, give it with \`--expires YYYY-MM-DD\`.`
    : "If you know when it expires, give the date with `--expires YYYY-MM-DD` when you connect it."
  return `${when} \`keyway connections\` and every test warn ${first}, ${week} and ${last} days ahead; replace the key with \`keyway connections update <id>\`, which keeps the old one until the new one passes.`
}

/** What a rule judges, for the troubleshooting table (see ErrorRule.scope). */
const JUDGES = {
  credential: "the credentials",
  request: "this request only",
  neither: "neither",
} as const

const conditionText = (rule: ErrorRule): string => {
  const parts: string[] = []
  if (rule.json) {
    const test =
      rule.json.equals !== undefined
        ? `is \`${rule.json.equals}\``
        : rule.json.contains !== undefined
          ? `contains "${rule.json.contains}"`
          : rule.json.type
            ? `is ${rule.json.type === "array" ? "an" : "a"} ${rule.json.type}`
            : "is present"
    parts.push(`\`${rule.json.path}\` ${test}`)
  }
  if (rule.bodyContains) parts.push(`the body says "${rule.bodyContains}"`)
  if (rule.header)
    parts.push(`header \`${rule.header.name}\`${rule.header.contains ? ` contains "${rule.header.contains}"` : ""}`)
  return parts.join(" and ") || "any other"
}

const seconds = (ms: number): string => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`

/** The retry policy as the engine runs it, from the same numbers: the definition's and the engine's defaults. */
export const retryPolicyText = (definition: ConnectorDefinition): string => {
  const check = policyFor(definition.rateLimit, "saveAndTest")
  const sync = policyFor(definition.rateLimit, "sync")
  const quota = ENGINE_DEFAULTS.retry.quota
  const first = `${seconds(backoffDelay(check, 0, 0)).replace(" s", "")} s to ${seconds(backoffDelay(check, 0, 0.999_999))}`
  return [
    `Keyway retries ${[...check.retryStatuses].join(" and ")} responses (a sync also ${[...sync.retryStatuses].filter((s) => !check.retryStatuses.has(s)).join(", ")}), and never 401, 403 or 404.`,
    "It waits as long as the vendor's headers ask (`Retry-After` as seconds or a date, `X-RateLimit-Reset`, or the IETF `RateLimit` field, whichever is longest).",
    `Without them it backs off: first retry after ${first}, each later one twice as long, at most ${seconds(check.maxDelayMs)} per wait, over at most ${check.maxAttempts} attempts.`,
    `A save & test answers within ${seconds(check.budgetMs)}, waits included: past that it answers \`rate_limited\` with when to try again, and never reports the key as invalid. A sync page has ${seconds(sync.budgetMs)}.`,
    `When this vendor keeps failing, a retry quota stops the retries until it recovers (${quota.capacity} tokens per vendor host; a retry costs ${quota.retryCost}, one after a timeout ${quota.timeoutRetryCost}; each success returns ${quota.successRefund}).`,
  ].join(" ")
}

export const connectorPage = (definition: ConnectorDefinition, source: string): string => {
  const lines: string[] = [
    `<!-- Generated by \`keyway docs\` from ${source}. Edit the definition, not this page. -->`,
    "",
    `# Connect ${definition.name}`,
    "",
    `${definition.name} (${definition.category}).${
      definition.docs?.api || definition.docs?.credentials
        ? ` Vendor documentation: ${[
            ...(definition.docs.api ? [`[API reference](${definition.docs.api})`] : []),
            ...(definition.docs.credentials ? [`[creating a key](${definition.docs.credentials})`] : []),
          ].join(", ")}.`
        : ""
    }`,
    "",
    "## What you'll need",
    "",
    tableOf(
      ["Credential", "Secret", "Required", "Where to find it"],
      definition.credentials.map((c) => [
        c.label,
        c.secret ? "secret" : "no",
        (c.required ?? true) ? "yes" : "optional",
        c.description + (c.expires ? ` ${c.expires.note}` : ""),
      ]),
    ),
  ]
  if ((definition.settings ?? []).length > 0) {
    lines.push(
      "",
      tableOf(
        ["Setting", "Default", "Values", "What it is"],
        (definition.settings ?? []).map((s) => [
          s.label,
          s.default ?? "",
          s.options?.map((o) => `\`${o.value}\` ${o.label}`).join(", ") ?? (s.type === "url" ? "an https URL" : "text"),
          s.description,
        ]),
      ),
    )
  }
  lines.push("", "## Prerequisites", "")
  lines.push(
    ...(definition.setup.prerequisites.length > 0 ? definition.setup.prerequisites.map((p) => `- ${p}`) : ["- None."]),
  )
  lines.push("", "## Setup steps", "", ...definition.setup.steps.map((step, index) => `${index + 1}. ${step}`))

  lines.push("", "## Verify your setup", "")
  if (definition.test.requests.length === 0) {
    lines.push("This connector declares no test request: Keyway can only check the credentials' format.", "")
  }
  for (const request of definition.test.requests) {
    lines.push(
      `${request.description ?? "The test request"}: it proves both the key and the base URL.`,
      "",
      "```sh",
      curlFor(definition, request, definition.auth),
      "```",
      "",
      `A working setup answers ${statusText(request.expect?.status ?? 200)}${
        request.expect?.json?.length
          ? `, with ${request.expect.json.map((j) => `${j.path === "$" ? "the body" : `\`${j.path}\``}${j.type ? ` as ${j.type === "array" ? "an" : "a"} ${j.type}` : " as JSON"}`).join(" and ")}`
          : ""
      }. Replace the values in angle brackets; dates are \`YYYY-MM-DD\`.`,
      "",
    )
  }
  const choice = definition.baseUrl.bySetting
  if (choice) {
    lines.push(
      `For another ${definition.settings?.find((s) => s.key === choice.setting)?.label.toLowerCase() ?? choice.setting}, use its base URL: ${Object.entries(
        choice.urls,
      )
        .map(([value, url]) => `\`${value}\` ${url}`)
        .join(", ")}.`,
      "",
    )
  }
  lines.push(`Or let Keyway check and save it: \`npx keyway connect ${definition.id}\`.`)

  const limits = definition.rateLimit
  lines.push(
    "",
    "## Rate limits",
    "",
    `${limits.notes}`,
    "",
    retryPolicyText(definition),
    "",
    "## Troubleshooting",
    "",
    definition.errors.rules.length === 0
      ? `${definition.name} has no error rules of its own.`
      : tableOf(
          ["Status", "When", "Outcome", "Judges", "Message", "What to do"],
          definition.errors.rules.map((rule) => [
            statusText(rule.status),
            conditionText(rule),
            `\`${rule.outcome}\``,
            JUDGES[rule.scope ?? defaultScopeFor(rule.outcome) ?? "neither"],
            rule.message,
            rule.remediation,
          ]),
        ),
    "",
    `${definition.errors.rules.length === 0 ? "Every status follows" : "Other statuses follow"} Keyway's default table: ${DEFAULT_STATUS_TABLE.filter(
      (row) => row.status !== "2xx",
    )
      .map((row) => `${row.status} \`${row.outcome}\`${row.scope === "request" ? " (this request only)" : ""}`)
      .join(
        ", ",
      )}, any other \`${DEFAULT_OTHER_OUTCOME}\`. A timeout is \`timeout\` and an unreachable server \`unreachable\`: ${OUTCOME_INFO.unreachable.remediation}`,
    "",
    "## Security notes",
    "",
  )
  const notes = [
    ...(definition.setup.securityNotes ?? []),
    ...definition.credentials.flatMap((c) =>
      c.expires ? [`${c.label}: ${c.expires.note} ${expiryPolicyText(c.expires)}`] : [],
    ),
    ...definition.auth.flatMap((p) =>
      p.in === "query" && p.reason ? [`\`${p.name}\` travels in the query string: ${p.reason}`] : [],
    ),
    "Keyway stores credentials encrypted (AES-256-GCM) and only ever shows their last 4 characters. It never follows a redirect to another origin with them.",
  ]
  lines.push(...notes.map((note) => `- ${note}`))

  if ((definition.reports ?? []).length > 0) {
    lines.push(
      "",
      "## Reports",
      "",
      tableOf(
        ["Stream", "What it holds", "Parameters", "Paging"],
        (definition.reports ?? []).map((s) => [
          `\`${s.id}\``,
          s.description + (s.assumed ? ` Assumed: ${s.assumed}` : ""),
          [
            ...(s.dateRange ? ["`--from`, `--to`"] : []),
            ...(s.params ?? []).map((p) => `\`${p.key}\`${p.required ? "" : " (optional)"}`),
          ].join(", ") || "none",
          s.paging.kind,
        ]),
      ),
      "",
      `Pull one with \`npx keyway sync <connection> <stream>\`.`,
    )
  }
  return `${lines.join("\n")}\n`
}

export const indexPage = (definitions: ReadonlyArray<ConnectorDefinition>): string =>
  [
    "<!-- Generated by `keyway docs`. Edit the definitions in connectors/, not this page. -->",
    "",
    "# Connectors",
    "",
    tableOf(
      ["Connector", "Category", "Credentials", "Auth"],
      definitions.map((d) => [
        `[${d.name}](${d.id}.md)`,
        d.category,
        d.credentials.map((c) => c.label + ((c.required ?? true) ? "" : " (optional)")).join(", "),
        d.auth
          .map((p) =>
            p.in === "basic" ? "basic auth" : p.in === "signer" ? `signed (${p.signer})` : `${p.in} \`${p.name}\``,
          )
          .join(" + "),
      ]),
    ),
    "",
  ].join("\n")
