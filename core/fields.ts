/**
 * Checking a customer's credentials and settings against a definition, before any request. Every
 * problem is reported at once, by field, and no message ever repeats a value.
 */
import * as Data from "effect/Data"
import { RE2JS } from "re2js"
import type { ConnectorDefinition } from "./definition.ts"
import { reveal, type Secret } from "./redact.ts"

export interface FieldProblem {
  /** `credentials.apiKey`, `settings.region` */
  readonly field: string
  readonly message: string
}

/** Input that cannot be sent: wrong or missing fields, or a value that would corrupt a request. */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{ readonly problems: ReadonlyArray<FieldProblem> }> {
  override get message(): string {
    return this.problems.map((p) => `${p.field} ${p.message}`).join("; ")
  }
}

export const invalidInput = (field: string, message: string): InvalidInput =>
  new InvalidInput({ problems: [{ field, message }] })

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/
/** CR, LF, NUL, tab or any other C0 control character, or DEL: never allowed in a header. */
export const hasControlCharacter = (value: string): boolean => CONTROL_CHARACTERS.test(value)
const WHITESPACE = /\s/

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

/** A connection's label is shown on terminals and pages: plain text of a sensible length, nothing that steers a display. */
export const checkLabel = (label: string): FieldProblem[] => {
  if (TERMINAL_CONTROLS.test(label)) {
    return [{ field: "label", message: "contains a control character; a label is plain text on one line" }]
  }
  if (label.length > 200) return [{ field: "label", message: "is longer than 200 characters" }]
  return []
}

/**
 * Format patterns come from definitions, and a pattern such as `^(a+)+$` would make JavaScript's
 * backtracking engine take minutes on a 33-character key. They run on RE2 instead (`re2js`), whose
 * time is linear in the input whatever the pattern; RE2 refuses what it cannot run that way
 * (lookaround, backreferences), and `keyway validate` says so. Each is compiled once, on first use.
 */
const compiled = new Map<string, RE2JS>()
const patternOf = (source: string): RE2JS => {
  let pattern = compiled.get(source)
  if (!pattern) {
    pattern = RE2JS.compile(source)
    compiled.set(source, pattern)
  }
  return pattern
}

/** Whether the whole of `value` matches a definition's pattern: patterns are anchored at both ends. */
export const matchesPattern = (source: string, value: string): boolean => patternOf(source).matcher(value).matches()

/** A bare host name: DNS labels of letters, digits and -, at least two, with no scheme, port or path. */
const HOST_NAME =
  /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/
export const isHostName = (value: string): boolean => HOST_NAME.test(value)

/** Why a definition's pattern cannot be used, or undefined when it can. */
export const patternProblem = (source: string): string | undefined => {
  try {
    patternOf(source)
    return undefined
  } catch (error) {
    const detail = error instanceof Error ? error.message.replace(/^error parsing regexp: /, "") : String(error)
    return `is not a pattern Keyway can run in linear time (${detail}); lookaround and backreferences are not supported`
  }
}

export const checkCredentials = (
  definition: ConnectorDefinition,
  given: Readonly<Record<string, Secret | undefined>>,
): FieldProblem[] => {
  const problems: FieldProblem[] = []
  const declared = new Set(definition.credentials.map((c) => c.key))
  for (const key of Object.keys(given)) {
    if (!declared.has(key) && given[key] !== undefined) {
      problems.push({ field: `credentials.${key}`, message: `is not a credential of ${definition.name}` })
    }
  }
  for (const credential of definition.credentials) {
    const field = `credentials.${credential.key}`
    const secret = given[credential.key]
    const value = secret === undefined ? undefined : reveal(secret)
    if (value === undefined || value === "") {
      if (credential.required ?? true) problems.push({ field, message: `is required (${credential.label})` })
      continue
    }
    if (hasControlCharacter(value)) {
      problems.push({ field, message: "contains a line break or control character; paste the value again" })
      continue
    }
    const format = credential.format
    if (format?.noWhitespace && WHITESPACE.test(value)) {
      problems.push({ field, message: "contains spaces; copy the value without them" })
    }
    if (format?.minLength !== undefined && value.length < format.minLength) {
      problems.push({ field, message: `is too short: at least ${format.minLength} characters expected` })
    }
    if (format?.maxLength !== undefined && value.length > format.maxLength) {
      problems.push({ field, message: `is too long: at most ${format.maxLength} characters expected` })
    }
    if (format?.pattern !== undefined && !matchesPattern(format.pattern, value)) {
      problems.push({ field, message: `does not have the expected format (${format.pattern})` })
    }
  }
  return problems
}

export const checkSettings = (
  definition: ConnectorDefinition,
  given: Readonly<Record<string, string | undefined>>,
): FieldProblem[] => {
  const problems: FieldProblem[] = []
  const settings = definition.settings ?? []
  for (const key of Object.keys(given)) {
    if (!settings.some((s) => s.key === key)) {
      const known = settings.map((s) => s.key).join(", ") || "none"
      problems.push({
        field: `settings.${key}`,
        message: `is not a setting of ${definition.name} (settings: ${known})`,
      })
    }
  }
  for (const setting of settings) {
    const field = `settings.${setting.key}`
    const value = given[setting.key]
    if (value === undefined || value === "") {
      if (setting.required && setting.default === undefined) problems.push({ field, message: "is required" })
      continue
    }
    if (hasControlCharacter(value)) {
      problems.push({ field, message: "contains a control character" })
      continue
    }
    const options = setting.options?.map((o) => o.value) ?? []
    if (setting.type === "enum" && !options.includes(value)) {
      problems.push({ field, message: `must be one of ${options.join(", ")}` })
    }
    if (setting.type === "url" && !/^https:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(value)) {
      problems.push({ field, message: "must be an https:// URL with no query string" })
    }
    if (setting.type === "host" && !isHostName(value)) {
      problems.push({ field, message: "must be a host name such as acme.example.com, with no https:// and no path" })
    }
    if (setting.pattern && !matchesPattern(setting.pattern, value)) {
      problems.push({ field, message: `does not have the expected format (${setting.pattern})` })
    }
  }
  return problems
}
