/**
 * Before any request: a customer's input checked against a definition (every problem at once, by
 * field), and where requests will go. Save & test and sync both start here. Pure: no network.
 */
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import { type BaseUrlRejected, resolveBaseUrl, sandboxBaseUrl, withSettingDefaults } from "./base-url.ts"
import type { ConnectorDefinition } from "./definition.ts"
import { checkCredentials, checkSettings, type FieldProblem, InvalidInput } from "./fields.ts"
import { conceal, reveal, type Secret } from "./redact.ts"
import { templateReferences } from "./template.ts"

export interface CredentialInput {
  readonly connectorId: string
  /** Plain text, or already `Redacted`: either way it stays opaque from here on. */
  readonly credentials: Readonly<Record<string, Secret | undefined>>
  readonly settings?: Readonly<Record<string, string | undefined>>
  /** When the customer knows it: the date a credential expires, `YYYY-MM-DD`. */
  readonly expiresAt?: string
  /** Whether `expiresAt` was given, or estimated from the vendor's default lifetime (a saved connection's). */
  readonly expirySource?: "given" | "estimated"
}

export interface Prepared {
  /** Shared by every check with the same definition and settings: never changed in place. */
  readonly baseUrl: Readonly<URL>
  /** The credentials given, as opaque values: unwrapped only where a header or query is written. */
  readonly credentials: Readonly<Record<string, Redacted.Redacted<string>>>
  /** The settings given, each unset one with the definition's default. */
  readonly settings: Readonly<Record<string, string | undefined>>
  /** Every secret given, for redaction. */
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  /** Requests go to the loopback sandbox, not the vendor. */
  readonly sandboxed: boolean
}

/** The setting a base-URL problem is the customer's to fix in. */
const baseUrlSetting = (definition: ConnectorDefinition): string => {
  const named = definition.baseUrl.selfHostedSetting ?? definition.baseUrl.bySetting?.setting
  if (named) return named
  const fromTemplate = templateReferences(definition.baseUrl.url).references.find(
    (r) => r.kind === "scoped" && r.namespace === "settings",
  )
  return fromTemplate?.kind === "scoped" ? fromTemplate.key : "baseUrl"
}

type Resolved = Either.Either<Readonly<URL>, BaseUrlRejected>

/** At most this many settings combinations per definition are remembered; then the memory starts over. */
const REMEMBERED_PER_DEFINITION = 256

/**
 * Base URLs already resolved, per definition, by settings and sandbox: a check's template render,
 * two URL parses and the allow-list cost more than the rest of its set-up together. Pure results of
 * their inputs, so remembering them changes nothing but the time.
 */
const resolvedBefore = new WeakMap<ConnectorDefinition, Map<string, { real: Resolved; used: Resolved }>>()

/** Whether an object has any own property: most checks give no settings, and need no JSON for them. */
const hasAny = (object: object): boolean => {
  for (const _ in object) return true
  return false
}

const resolveOnce = (
  definition: ConnectorDefinition,
  given: Readonly<Record<string, string | undefined>>,
  sandboxUrl: string | undefined,
): { real: Resolved; used: Resolved } => {
  let remembered = resolvedBefore.get(definition)
  if (!remembered) {
    remembered = new Map()
    resolvedBefore.set(definition, remembered)
  }
  const key = `${sandboxUrl ?? ""}\u0000${hasAny(given) ? JSON.stringify(given) : ""}`
  const known = remembered.get(key)
  if (known) return known
  const real: Resolved = resolveBaseUrl(definition, given)
  // The sandbox serves each vendor under its real base URL's path, so that path is kept.
  const used: Resolved = sandboxUrl
    ? sandboxBaseUrl(definition.id, sandboxUrl, Either.isRight(real) ? real.right.pathname : "")
    : real
  if (remembered.size >= REMEMBERED_PER_DEFINITION) remembered.clear()
  remembered.set(key, { real, used })
  return { real, used }
}

/** `sandboxUrl` sends every request to that loopback sandbox instead of the vendor (`--sandbox`). */
export const prepare = (
  definition: ConnectorDefinition,
  input: CredentialInput,
  sandboxUrl: string | undefined,
): Either.Either<Prepared, InvalidInput> => {
  const given = input.settings ?? {}
  const problems: FieldProblem[] = [
    ...checkCredentials(definition, input.credentials),
    ...checkSettings(definition, given),
  ]
  if (input.expiresAt !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(input.expiresAt)) {
    problems.push({ field: "expiresAt", message: "must be a date, YYYY-MM-DD" })
  }
  // The real base URL is checked even in sandbox mode, so settings fail the same way in both.
  const { real, used: baseUrl } = resolveOnce(definition, given, sandboxUrl)
  if (Either.isLeft(real)) {
    const field = real.left.missing ?? `settings.${baseUrlSetting(definition)}`
    // A required setting left out is said once, as missing, not again as a base URL it cannot build.
    if (!(real.left.missing && problems.some((p) => p.field === field))) {
      problems.push({ field, message: real.left.detail })
    }
  }
  if (Either.isLeft(baseUrl) && sandboxUrl) problems.push({ field: "sandbox", message: baseUrl.left.detail })
  if (problems.length > 0 || Either.isLeft(baseUrl)) return Either.left(new InvalidInput({ problems }))
  const credentials: Record<string, Redacted.Redacted<string>> = {}
  for (const [key, value] of Object.entries(input.credentials)) {
    if (value !== undefined && reveal(value) !== "") credentials[key] = conceal(value)
  }
  return Either.right({
    baseUrl: baseUrl.right,
    credentials,
    settings: withSettingDefaults(definition, given),
    secrets: Object.values(credentials),
    sandboxed: sandboxUrl !== undefined,
  })
}
