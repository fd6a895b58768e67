/**
 * The one templating function. A template is plain text with `${...}` placeholders. A placeholder
 * holds a name (`credentials.<key>`, `settings.<key>`, `params.<key>` or a built-in date), a quoted
 * text, a default (`settings.region || 'us'`) or one of two functions: `base64(...)` and
 * `date(<date>, '<format>')`. There is nothing else: no operators, no code. A definition is data, and
 * data should not run code.
 *
 * The clock is passed in (`now`), never read here, so rendering is pure and testable.
 */
// The mini class: the full one builds three Intl formatters when loaded (ICU start-up, 17 ms of every
// command), for toString output the templates never use.
import { UTCDateMini as UTCDate } from "@date-fns/utc/date/mini"
import { format as formatDate } from "date-fns"
import * as Data from "effect/Data"

const PLACEHOLDER = /\$\{([^}]*)\}/g

export const BUILTINS = ["today", "yesterday", "daysAgo7", "daysAgo30", "nowIso", "nowEpochMs"] as const
export type Builtin = (typeof BUILTINS)[number]

export const NAMESPACES = ["credentials", "settings", "params"] as const
export type Namespace = (typeof NAMESPACES)[number]

export const FUNCTIONS = ["base64", "date"] as const
export type TemplateFunction = (typeof FUNCTIONS)[number]

export type Reference =
  | { readonly kind: "builtin"; readonly name: Builtin }
  | { readonly kind: "scoped"; readonly namespace: Namespace; readonly key: string }
  | { readonly kind: "invalid"; readonly raw: string; readonly reason?: string }

/** What one placeholder holds. */
export type Expression =
  | { readonly kind: "reference"; readonly reference: Reference }
  | { readonly kind: "text"; readonly value: string }
  | { readonly kind: "call"; readonly name: TemplateFunction; readonly args: ReadonlyArray<Expression> }
  | { readonly kind: "first"; readonly options: ReadonlyArray<Expression> }

/** A key: letters, digits, `_` and `-`, as setting keys in vendors' own words use them. */
const KEY = /^(credentials|settings|params)\.([A-Za-z0-9_][A-Za-z0-9_-]*)$/

const parseReference = (raw: string): Reference => {
  const name = raw.trim()
  if ((BUILTINS as ReadonlyArray<string>).includes(name)) return { kind: "builtin", name: name as Builtin }
  const match = KEY.exec(name)
  if (match?.[1] && match[2]) return { kind: "scoped", namespace: match[1] as Namespace, key: match[2] }
  return { kind: "invalid", raw }
}

const invalid = (raw: string, reason: string): Expression => ({
  kind: "reference",
  reference: { kind: "invalid", raw, reason },
})

// ---------------------------------------------------------------------------------------------
// Parsing one placeholder: `a || 'b'`, `base64(a, ':', b)`, `date(today, 'yyyyMMdd')`

const TOKEN = /\s*(?:(\|\|)|([(),])|'((?:[^'\\]|\\.)*)'|([A-Za-z0-9_.-]+))/y

type Token =
  | { kind: "or" }
  | { kind: "punct"; value: string }
  | { kind: "text"; value: string }
  | { kind: "name"; value: string }

const tokenize = (source: string): Token[] | string => {
  const tokens: Token[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < source.length) {
    if (/^\s*$/.test(source.slice(TOKEN.lastIndex))) break
    const at = TOKEN.lastIndex
    const match = TOKEN.exec(source)
    if (!match) return `unexpected "${source.slice(at).trim()[0]}"`
    if (match[1]) tokens.push({ kind: "or" })
    else if (match[2]) tokens.push({ kind: "punct", value: match[2] })
    else if (match[3] !== undefined) tokens.push({ kind: "text", value: match[3].replace(/\\(.)/g, "$1") })
    else if (match[4]) tokens.push({ kind: "name", value: match[4] })
  }
  return tokens
}

/** Parses a placeholder's inside; a problem becomes an invalid reference with its reason. */
export const parseExpression = (source: string): Expression => {
  const tokens = tokenize(source)
  if (typeof tokens === "string") return invalid(source, tokens)
  let at = 0
  const fail = (reason: string): never => {
    throw new ParseProblem(reason)
  }
  const peek = () => tokens[at]
  const punct = (value: string) => {
    const token = tokens[at]
    if (token?.kind === "punct" && token.value === value) {
      at++
      return true
    }
    return false
  }
  const term = (): Expression => {
    const token = tokens[at++]
    if (!token) return fail("an expression ends too early")
    if (token.kind === "text") return { kind: "text", value: token.value }
    if (token.kind !== "name") return fail(`unexpected ${token.kind === "or" ? "||" : token.value}`)
    if (!punct("(")) return { kind: "reference", reference: parseReference(token.value) }
    if (!(FUNCTIONS as ReadonlyArray<string>).includes(token.value)) {
      return fail(`${token.value}() is not a function (functions: ${FUNCTIONS.join(", ")})`)
    }
    const args: Expression[] = []
    if (!punct(")")) {
      do args.push(expression())
      while (punct(","))
      if (!punct(")")) return fail(`${token.value}( has no closing )`)
    }
    return { kind: "call", name: token.value as TemplateFunction, args }
  }
  const expression = (): Expression => {
    const options = [term()]
    while (peek()?.kind === "or") {
      at++
      options.push(term())
    }
    return options.length === 1 ? (options[0] as Expression) : { kind: "first", options }
  }
  try {
    const parsed = expression()
    if (at < tokens.length) return invalid(source, "has more after the expression")
    const problem = callProblem(parsed)
    return problem ? invalid(source, problem) : parsed
  } catch (error) {
    if (error instanceof ParseProblem) return invalid(source, error.message)
    throw error
  }
}

class ParseProblem extends Error {}

/** Each function's arguments, checked once at parse time so a definition fails at validate, not at a request. */
const callProblem = (expression: Expression): string | undefined => {
  switch (expression.kind) {
    case "call": {
      const inner = expression.args.map(callProblem).find((p) => p !== undefined)
      if (inner) return inner
      if (expression.name === "base64" && expression.args.length === 0) return "base64() needs at least one value"
      if (expression.name === "date") {
        const [value, pattern, ...rest] = expression.args
        if (!value || pattern?.kind !== "text" || rest.length > 0) {
          return "date() takes a date and a quoted format, e.g. date(today, 'yyyyMMdd')"
        }
        if (value.kind !== "reference" || value.reference.kind !== "builtin") {
          return "date() formats a built-in date: today, yesterday, daysAgo7, daysAgo30 or nowIso"
        }
        try {
          formatDate(new UTCDate(0), pattern.value)
        } catch (error) {
          return `'${pattern.value}' is not a date format (${error instanceof Error ? error.message : String(error)})`
        }
      }
      return undefined
    }
    case "first":
      return expression.options.map(callProblem).find((p) => p !== undefined)
    default:
      return undefined
  }
}

const referencesOf = (expression: Expression): Reference[] => {
  switch (expression.kind) {
    case "reference":
      return [expression.reference]
    case "text":
      return []
    case "call":
      return expression.args.flatMap(referencesOf)
    case "first":
      return expression.options.flatMap(referencesOf)
  }
}

/** Every name a template uses, plus an `unclosed` flag for a `${` with no `}`. */
export const templateReferences = (
  template: string,
): { readonly references: ReadonlyArray<Reference>; readonly unclosed: boolean } => {
  const references = partsOf(template).flatMap((part) => (typeof part === "string" ? [] : referencesOf(part)))
  const unclosed = template.replace(PLACEHOLDER, "").includes("${")
  return { references, unclosed }
}

export interface TemplateContext {
  readonly credentials: Readonly<Record<string, string | undefined>>
  readonly settings: Readonly<Record<string, string | undefined>>
  readonly params?: Readonly<Record<string, string | undefined>>
  readonly now: Date
}

/** Days already formatted: every check of a day asks for the same few dates. Bounded, as days pass. */
const formattedDays = new Map<number, string>()
const isoDate = (date: Date): string => {
  const day = Math.floor(date.getTime() / 86_400_000)
  let iso = formattedDays.get(day)
  if (iso === undefined) {
    if (formattedDays.size >= 64) formattedDays.clear()
    iso = date.toISOString().slice(0, 10)
    formattedDays.set(day, iso)
  }
  return iso
}
const daysBefore = (now: Date, days: number): Date => new Date(now.getTime() - days * 86_400_000)

const builtinValue = (name: Builtin, now: Date): string => {
  switch (name) {
    case "today":
      return isoDate(now)
    case "yesterday":
      return isoDate(daysBefore(now, 1))
    case "daysAgo7":
      return isoDate(daysBefore(now, 7))
    case "daysAgo30":
      return isoDate(daysBefore(now, 30))
    case "nowIso":
      return now.toISOString()
    case "nowEpochMs":
      return String(now.getTime())
  }
}

/** A placeholder with no value: the caller names what is missing, never any value. */
export class MissingTemplateValue extends Data.TaggedError("MissingTemplateValue")<{
  readonly reference: string
}> {
  override get message(): string {
    return `no value for \${${this.reference}}`
  }
}

/** A template split into its literal text and its placeholders. */
type Part = string | Expression

/**
 * Templates come only from definitions, so there are as many as the definitions hold: each is parsed
 * once, on first use, not on every request.
 */
const parsed = new Map<string, ReadonlyArray<Part>>()

const partsOf = (template: string): ReadonlyArray<Part> => {
  let parts = parsed.get(template)
  if (!parts) {
    const found: Part[] = []
    let at = 0
    for (const match of template.matchAll(PLACEHOLDER)) {
      if (match.index > at) found.push(template.slice(at, match.index))
      found.push(parseExpression(match[1] ?? ""))
      at = match.index + match[0].length
    }
    if (at < template.length) found.push(template.slice(at))
    parts = found
    parsed.set(template, parts)
  }
  return parts
}

/** The name a missing reference is reported by. */
const nameOf = (reference: Reference): string =>
  reference.kind === "builtin"
    ? reference.name
    : reference.kind === "scoped"
      ? `${reference.namespace}.${reference.key}`
      : reference.raw

/** An expression's value, or the first reference that has none. */
const evaluate = (expression: Expression, context: TemplateContext): string | { readonly missing: string } => {
  switch (expression.kind) {
    case "text":
      return expression.value
    case "reference": {
      const reference = expression.reference
      if (reference.kind === "builtin") return builtinValue(reference.name, context.now)
      if (reference.kind === "invalid") return { missing: reference.raw }
      const value = context[reference.namespace]?.[reference.key]
      return value === undefined ? { missing: nameOf(reference) } : value
    }
    case "first": {
      let firstMissing: { readonly missing: string } | undefined
      for (const option of expression.options) {
        const value = evaluate(option, context)
        // An empty value is as good as none: a blank setting takes the default.
        if (typeof value === "string" && value !== "") return value
        if (typeof value === "string") continue
        firstMissing ??= value
      }
      return firstMissing ?? { missing: "" }
    }
    case "call": {
      const values: string[] = []
      for (const arg of expression.args) {
        const value = evaluate(arg, context)
        if (typeof value !== "string") return value
        values.push(value)
      }
      if (expression.name === "base64") return Buffer.from(values.join(""), "utf8").toString("base64")
      const [date = "", pattern = ""] = values
      const moment = /^\d+$/.test(date) ? new UTCDate(Number(date)) : new UTCDate(date)
      return formatDate(moment, pattern)
    }
  }
}

/**
 * Substitutes every placeholder. Throws `MissingTemplateValue` for an absent value or an invalid
 * name; definitions are linted before use, so either means a caller passed too little.
 */
export const renderTemplate = (template: string, context: TemplateContext): string => {
  if (!template.includes("${")) return template
  let text = ""
  for (const part of partsOf(template)) {
    if (typeof part === "string") {
      text += part
      continue
    }
    const value = evaluate(part, context)
    if (typeof value !== "string") throw new MissingTemplateValue({ reference: value.missing })
    text += value
  }
  return text
}

/**
 * Substitutes each placeholder with whatever `describe` says for each name in it: for documentation,
 * where a secret becomes `<API key>` and a date `YYYY-MM-DD`. A function shows as written around them.
 */
export const renderWith = (template: string, describe: (reference: Reference) => string): string => {
  const show = (expression: Expression): string => {
    switch (expression.kind) {
      case "reference":
        return describe(expression.reference)
      case "text":
        return expression.value
      case "call":
        return `${expression.name}(${expression.args.map(show).join(expression.name === "base64" ? "" : ", ")})`
      case "first":
        return expression.options.map(show).join(" or ")
    }
  }
  return partsOf(template)
    .map((part) => (typeof part === "string" ? part : show(part)))
    .join("")
}
