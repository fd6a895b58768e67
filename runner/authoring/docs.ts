/**
 * The customer's page for a connector, generated from its definition alone: what you'll need,
 * prerequisites, setup steps, a curl command to verify, rate limits, troubleshooting and security
 * notes. `keyway docs` writes one per connector plus an index; `keyway docs --check` fails when a
 * committed page is stale.
 *
 * Pages are committed and checked, so they never depend on the day they are generated: date
 * placeholders become fixed example dates (EXAMPLE_NOW), and every curl command runs as written
 * against the sandbox once the origin and the credentials are swapped (test/docs-curl.test.ts).
 * The one thing a page takes from its environment is the operator's egress address
 * (`KEYWAY_EGRESS_IP`), for vendors whose keys can be restricted to an IP address.
 */

import { ENGINE_DEFAULTS } from "../../core/defaults.ts"
import type { ConnectorDefinition, Credential, ErrorRule, Placement, TestRequest } from "../../core/definition.ts"
import { EXPIRY_WARNING_DAYS } from "../../core/expiry.ts"
import { DEFAULT_OTHER_OUTCOME, DEFAULT_STATUS_TABLE, defaultScopeFor, OUTCOME_INFO } from "../../core/outcomes.ts"
import { placeAuth } from "../../core/placements.ts"
import { backoffDelay, NEVER_RETRIED, policyFor } from "../../core/retry.ts"
import { signerNamed } from "../../core/signers.ts"
import { type Reference, renderTemplate, renderWith, templateReferences } from "../../core/template.ts"

const cell = (text: string): string =>
  text
    .replace(/\|/g, "\\|")
    .replace(/\s*\n\s*/g, " ")
    .trim()
const row = (cells: ReadonlyArray<string>): string => `| ${cells.map(cell).join(" | ")} |`
const tableOf = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [row(header), row(header.map(() => "---")), ...rows.map(row)].join("\n")

/**
 * The "now" that a page's date placeholders are shown at: fixed, so that a page is the same whenever
 * it is generated, and a date the vendor accepts (`daysAgo7` is 2026-01-01, `today` 2026-01-08).
 */
export const EXAMPLE_NOW = new Date("2026-01-08T00:00:00Z")

/** A built-in placeholder's value at EXAMPLE_NOW, computed by the engine's own template code. */
const exampleValue = (name: string): string =>
  renderTemplate(`\${${name}}`, { credentials: {}, settings: {}, now: EXAMPLE_NOW })

const placeholder =
  (definition: ConnectorDefinition) =>
  (reference: Reference): string => {
    if (reference.kind === "builtin") return exampleValue(reference.name)
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

/** Every template a request's curl command fills: base URL, path, query, headers, auth and body. */
const templatesOf = (definition: ConnectorDefinition, request: TestRequest): string[] => {
  const strings = (value: unknown): string[] =>
    typeof value === "string"
      ? [value]
      : Array.isArray(value)
        ? value.flatMap(strings)
        : value && typeof value === "object"
          ? Object.values(value).flatMap(strings)
          : []
  return [
    definition.baseUrl.url,
    request.path,
    ...Object.values(request.query ?? {}),
    ...Object.values({ ...definition.headers, ...request.headers }),
    ...strings(definition.auth),
    ...strings(request.body),
  ]
}

/** The example values a request's curl command shows for built-in placeholders (dates, times), in order. */
export const exampleValuesIn = (definition: ConnectorDefinition, request: TestRequest): string[] => [
  ...new Set(
    templatesOf(definition, request).flatMap((template) =>
      templateReferences(template).references.flatMap((r) => (r.kind === "builtin" ? [exampleValue(r.name)] : [])),
    ),
  ),
]

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

/**
 * Exactly what Keyway does about a credential's expiry, from the numbers it uses: the warnings of
 * `expiryWarning` (core/expiry.ts) and the fleet's `connection.expiring` webhook (runner/fleet/worker.ts).
 */
export const expiryPolicyText = (expires: NonNullable<Credential["expires"]>): string => {
  const [first, week, last] = EXPIRY_WARNING_DAYS
  const when = expires.afterDays
    ? `Keyway records it as expiring ${expires.afterDays} days after the day you connect it, the vendor's default lifetime (it cannot see when the key was created); if you know the date, give it with \`--expires YYYY-MM-DD\`.`
    : "If you know when it expires, give the date with `--expires YYYY-MM-DD` when you connect it."
  return [
    when,
    `From ${first} days before that date, \`keyway connections\` and every test of the key print a warning each time they run, more urgent from ${week} days and again from ${last} ${last === 1 ? "day" : "days"} before; after the date they say it has expired.`,
    `A fleet worker's scheduled verify also sends the \`connection.expiring\` webhook each time it finds the key still working less than ${first} days before that date.`,
    "Keyway never renews or removes the key itself: replace it with `keyway connections update <id>`, which keeps the old one until the new one passes.",
  ].join(" ")
}

/** What a rule judges, for the troubleshooting table (see ErrorRule.scope). */
const JUDGES = {
  credential: "the credentials",
  request: "this request only",
  neither: "neither",
} as const

/** The statuses a rule's `status` matches: a list, or a class such as 5xx as its hundred codes. */
const statusesOf = (status: ErrorRule["status"]): number[] =>
  typeof status === "number"
    ? [status]
    : Array.isArray(status)
      ? [...status]
      : Array.from({ length: 100 }, (_, i) => Number(status[0]) * 100 + i)

const conditionsOf = (rule: ErrorRule): string[] => {
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
  if (rule.header) {
    const name = `header \`${rule.header.name}\``
    parts.push(
      rule.header.present === false
        ? `no ${name}`
        : `${name}${rule.header.contains ? ` contains "${rule.header.contains}"` : ""}`,
    )
  }
  return parts
}

/**
 * When a troubleshooting row applies: its conditions; with none, every response of its status, or
 * every other one when an earlier rule (rules match in order) takes some of that status first.
 */
export const whenText = (rule: ErrorRule, earlier: ReadonlyArray<ErrorRule>): string => {
  const conditions = conditionsOf(rule)
  if (conditions.length > 0) return conditions.join(" and ")
  const statuses = new Set(statusesOf(rule.status))
  const taken = earlier.some((r) => statusesOf(r.status).some((s) => statuses.has(s)))
  const named = Array.isArray(rule.status) ? rule.status.join(" or ") : String(rule.status)
  return `${taken ? "any other" : "any"} ${named}`
}

const seconds = (ms: number): string => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`

/** The retry policy as the engine runs it, from the same numbers: the definition's and the engine's defaults. */
export const retryPolicyText = (definition: ConnectorDefinition): string => {
  const check = policyFor(definition.rateLimit, "saveAndTest")
  const sync = policyFor(definition.rateLimit, "sync")
  const quota = ENGINE_DEFAULTS.retry.quota
  const list = (items: ReadonlyArray<number>, last: string) =>
    items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} ${last} ${items.at(-1)}`
  const syncOnly = [...sync.retryStatuses].filter((s) => !check.retryStatuses.has(s))
  const first = `${seconds(backoffDelay(check, 0, 0)).replace(" s", "")} s to ${seconds(backoffDelay(check, 0, 0.999_999))}`
  return [
    `Keyway retries ${check.retryStatuses.size > 0 ? `${list([...check.retryStatuses], "and")} responses` : "no status"}${syncOnly.length > 0 ? ` (a sync also ${syncOnly.join(", ")})` : ""}, and never ${list([...NEVER_RETRIED], "or")}.`,
    "It waits as long as the vendor's headers ask (`Retry-After` as seconds or a date, `X-RateLimit-Reset`, or the IETF `RateLimit` field, whichever is longest).",
    `Without them it backs off: first retry after ${first}, each later one twice as long, at most ${seconds(check.maxDelayMs)} per wait, over at most ${check.maxAttempts} attempts.`,
    `A save & test answers within ${seconds(check.budgetMs)}, waits included: past that it answers \`rate_limited\` with when to try again, and never reports the key as invalid. A sync page has ${seconds(sync.budgetMs)}.`,
    `When this vendor keeps failing, a retry quota stops the retries until it recovers (${quota.capacity} tokens per vendor host; a retry costs ${quota.retryCost}, one after a timeout ${quota.timeoutRetryCost}; each success returns ${quota.successRefund}).`,
  ].join(" ")
}

/** The environment variable that names the public IP address Keyway calls vendors from. */
export const EGRESS_IP_ENV = "KEYWAY_EGRESS_IP"

/**
 * A setup step that names Keyway's egress address (for a key restricted to an IP address) gets the
 * address right after it on the page: the configured one, or whom to ask for it.
 */
export const EGRESS_MARKER = "Keyway's egress address"

export interface PageOptions {
  /** The public IP address Keyway calls vendors from, when the operator has configured it. */
  readonly egressIp?: string | undefined
}

/** The page options an environment gives: `KEYWAY_EGRESS_IP`, when set and not blank. */
export const pageOptionsFrom = (env: Readonly<Record<string, string | undefined>>): PageOptions => {
  const egressIp = env[EGRESS_IP_ENV]?.trim()
  return egressIp ? { egressIp } : {}
}

/** Where Keyway's calls to a vendor come from, for a key's IP restriction. */
export const egressText = (vendor: string, egressIp: string | undefined): string =>
  egressIp
    ? `Keyway calls ${vendor} from ${egressIp}; add it to the key's IP restriction.`
    : `Ask your Keyway operator for it: the public IP address Keyway calls ${vendor} from (they set it as \`${EGRESS_IP_ENV}\`).`

/** What a curl command's example values are: placeholders to replace, and dates that are only examples. */
const verifyNotes = (command: string, examples: ReadonlyArray<string>): string => {
  const notes: string[] = []
  if (/<[^<>]+>/.test(command)) notes.push("Replace the values in angle brackets.")
  if (examples.length > 0) {
    const shown = examples.map((e) => `\`${e}\``).join(" and ")
    notes.push(
      `${shown} ${examples.length === 1 ? "is an example" : "are examples"}: Keyway's own test sends the current ${examples.length === 1 ? "value" : "values"}.`,
    )
  }
  return notes.length > 0 ? ` ${notes.join(" ")}` : ""
}

/**
 * The page. `options` default to the environment's (`KEYWAY_EGRESS_IP`), so an operator who sets it
 * gets pages that name their address; the committed pages are generated without it.
 */
export const connectorPage = (
  definition: ConnectorDefinition,
  source: string,
  options: PageOptions = pageOptionsFrom(process.env),
): string => {
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
  lines.push(
    "",
    "## Setup steps",
    "",
    ...definition.setup.steps.map(
      (step, index) =>
        `${index + 1}. ${step}${step.includes(EGRESS_MARKER) ? ` ${egressText(definition.name, options.egressIp)}` : ""}`,
    ),
  )

  lines.push("", "## Verify your setup", "")
  if (definition.test.requests.length === 0) {
    lines.push("This connector declares no test request: Keyway can only check the credentials' format.", "")
  }
  for (const request of definition.test.requests) {
    const command = curlFor(definition, request, definition.auth)
    lines.push(
      `${request.description ?? "The test request"}: it proves both the key and the base URL.`,
      "",
      "```sh",
      command,
      "```",
      "",
      `A working setup answers ${statusText(request.expect?.status ?? 200)}${
        request.expect?.json?.length
          ? `, with ${request.expect.json.map((j) => `${j.path === "$" ? "the body" : `\`${j.path}\``}${j.type ? ` as ${j.type === "array" ? "an" : "a"} ${j.type}` : " as JSON"}`).join(" and ")}`
          : ""
      }.${verifyNotes(command, exampleValuesIn(definition, request))}`,
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
          definition.errors.rules.map((rule, index) => [
            statusText(rule.status),
            whenText(rule, definition.errors.rules.slice(0, index)),
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
