/**
 * The one templating function. A template is plain text with `${name}` placeholders, where a name is
 * `credentials.<key>`, `settings.<key>`, `params.<key>` or a built-in date. There are no expressions:
 * a definition is data, and data should not run code.
 *
 * The clock is passed in (`now`), never read here, so rendering is pure and testable.
 */
import * as Data from "effect/Data"

const PLACEHOLDER = /\$\{([^}]*)\}/g

export const BUILTINS = ["today", "yesterday", "daysAgo7", "daysAgo30", "nowIso", "nowEpochMs"] as const
export type Builtin = (typeof BUILTINS)[number]

export const NAMESPACES = ["credentials", "settings", "params"] as const
export type Namespace = (typeof NAMESPACES)[number]

export type Reference =
  | { readonly kind: "builtin"; readonly name: Builtin }
  | { readonly kind: "scoped"; readonly namespace: Namespace; readonly key: string }
  | { readonly kind: "invalid"; readonly raw: string }

const parseReference = (raw: string): Reference => {
  const name = raw.trim()
  if ((BUILTINS as ReadonlyArray<string>).includes(name)) return { kind: "builtin", name: name as Builtin }
  const match = /^(credentials|settings|params)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(name)
  if (match?.[1] && match[2]) {
    return { kind: "scoped", namespace: match[1] as Namespace, key: match[2] }
  }
  return { kind: "invalid", raw }
}

/** Every placeholder in a template, plus an `unclosed` flag for a `${` with no `}`. */
export const templateReferences = (
  template: string,
): { readonly references: ReadonlyArray<Reference>; readonly unclosed: boolean } => {
  const references = [...template.matchAll(PLACEHOLDER)].map((m) => parseReference(m[1] ?? ""))
  const unclosed = template.replace(PLACEHOLDER, "").includes("${")
  return { references, unclosed }
}

export interface TemplateContext {
  readonly credentials: Readonly<Record<string, string | undefined>>
  readonly settings: Readonly<Record<string, string | undefined>>
  readonly params?: Readonly<Record<string, string | undefined>>
  readonly now: Date
}

const isoDate = (date: Date): string => date.toISOString().slice(0, 10)
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
type Part = string | Reference

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
      found.push(parseReference(match[1] ?? ""))
      at = match.index + match[0].length
    }
    if (at < template.length) found.push(template.slice(at))
    parts = found
    parsed.set(template, parts)
  }
  return parts
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
    if (part.kind === "builtin") text += builtinValue(part.name, context.now)
    else if (part.kind === "invalid") throw new MissingTemplateValue({ reference: part.raw })
    else {
      const value = context[part.namespace]?.[part.key]
      if (value === undefined) throw new MissingTemplateValue({ reference: `${part.namespace}.${part.key}` })
      text += value
    }
  }
  return text
}

/**
 * Substitutes each placeholder with whatever `describe` says for it: for documentation, where a
 * secret becomes `<API key>` and a date `YYYY-MM-DD`.
 */
export const renderWith = (template: string, describe: (reference: Reference) => string): string =>
  template.replace(PLACEHOLDER, (_whole, raw: string) => describe(parseReference(raw)))
