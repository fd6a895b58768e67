/**
 * `keyway connectors`: one line per connector.
 * `keyway connectors show <id>`: its credentials, settings, placements, test request and error table.
 */
import * as Effect from "effect/Effect"
import type { ConnectorDefinition, Placement, StatusMatch } from "../../../core/definition.ts"
import { Catalog, catalogFromDir, connectorsDir, findDefinition } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, type OptionSpecs, printJson, reportInvalid, table, unknownWord, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"

const describePlacement = (placement: Placement): string =>
  placement.in === "basic"
    ? `basic auth (${placement.username} : ${placement.password})`
    : placement.in === "signer"
      ? `signed by ${placement.signer}`
      : `${placement.in} ${placement.name}: ${placement.value}`

const describeStatus = (status: StatusMatch): string => (Array.isArray(status) ? status.join(", ") : String(status))

const baseUrls = (definition: ConnectorDefinition): ReadonlyArray<string> => [
  definition.baseUrl.url,
  ...Object.values(definition.baseUrl.bySetting?.urls ?? {}),
]

export const summarise = (definition: ConnectorDefinition) => ({
  id: definition.id,
  name: definition.name,
  category: definition.category,
  credentials: definition.credentials.map((c) => ({
    key: c.key,
    label: c.label,
    secret: c.secret,
    required: c.required ?? true,
  })),
  settings: (definition.settings ?? []).map((s) => ({
    key: s.key,
    type: s.type,
    default: s.default ?? null,
    options: s.options?.map((o) => o.value) ?? null,
  })),
  baseUrls: baseUrls(definition),
  auth: definition.auth.map(describePlacement),
  test: definition.test.requests.map((r) => `${r.method ?? "GET"} ${r.path}`),
  probes: (definition.test.probes ?? []).map((p) => p.id),
  errors: definition.errors.rules.map((rule) => ({
    status: describeStatus(rule.status),
    outcome: rule.outcome,
    message: rule.message,
    remediation: rule.remediation,
  })),
})

const show = (definition: ConnectorDefinition, io: Io): void => {
  const summary = summarise(definition)
  if (io.json) {
    printJson(io, { ...summary, docs: definition.docs, rateLimit: definition.rateLimit })
    return
  }
  const lines = [
    `${definition.name} (${definition.id}), ${definition.category}`,
    `API docs: ${definition.docs?.api ?? "(not linked)"}`,
    "",
    "Credentials:",
    table(
      definition.credentials.map((c) => [
        `  ${c.key}`,
        c.secret ? "secret" : "plain",
        (c.required ?? true) ? "required" : "optional",
        c.label,
      ]),
    ),
  ]
  if (summary.settings.length > 0) {
    lines.push("", "Settings:")
    lines.push(
      table(
        summary.settings.map((s) => [
          `  ${s.key}`,
          s.type,
          s.default === null ? "" : `default ${s.default}`,
          s.options ? s.options.join(" | ") : "",
        ]),
      ),
    )
  }
  lines.push("", `Base URL: ${summary.baseUrls.join(", ")}`, "", "Auth:")
  lines.push(...summary.auth.map((a) => `  ${a}`))
  lines.push("", "Test:", ...summary.test.map((t) => `  ${t}`))
  if (summary.probes.length > 0) lines.push(`  probes: ${summary.probes.join(", ")}`)
  lines.push("", "Errors:")
  lines.push(
    table([["  status", "outcome", "message"], ...summary.errors.map((e) => [`  ${e.status}`, e.outcome, e.message])]),
  )
  lines.push("", `Rate limits: ${definition.rateLimit.notes}`)
  io.out(`${lines.join("\n")}\n`)
}

export const options = {} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ positionals: [action, id] }, io) =>
  Effect.gen(function* () {
    if (action === "show") {
      if (!id) return yield* usage("which connector? keyway connectors show <id>")
      show(yield* findDefinition(id), io)
      return EXIT.ok
    }
    if (action !== undefined) return yield* unknownWord("action", action, ["show"], "npx keyway help connectors")
    const { definitions, invalid } = yield* (yield* Catalog).all
    reportInvalid(io, invalid)
    const summaries = [...definitions.values()].map(summarise)
    if (io.json) {
      printJson(io, summaries)
      return EXIT.ok
    }
    io.out(
      `${table([
        ["ID", "NAME", "AUTH", "TEST"],
        ...summaries.map((s) => [s.id, s.name, s.auth.map((a) => a.replace(/:.*/, "")).join(" + "), s.test.join("; ")]),
      ])}\n`,
    )
    return EXIT.ok
  }).pipe(Effect.provide(catalogFromDir(connectorsDir(io.env))))
