/**
 * Building one request from a definition: base URL, path and query templating, and the auth
 * placements (read by `core/placements.ts`). Every header value is checked for CR, LF, NUL and other
 * control characters before anything is sent; a problem names the credential, never its value.
 * Secrets are unwrapped from `Redacted` here, and only here, where a header or query is written.
 */
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { Placement } from "../../core/definition.ts"
import { type FieldProblem, hasControlCharacter, InvalidInput } from "../../core/fields.ts"
import { placeAuth, wireParts } from "../../core/placements.ts"
import { signerNamed } from "../../core/signers.ts"
import { renderTemplate, templateReferences } from "../../core/template.ts"

export interface OutgoingRequest {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

export interface RequestSpec {
  readonly method?: string | undefined
  readonly path: string
  /** Query parameters whose values are templates, from the definition. */
  readonly query?: Readonly<Record<string, string>> | undefined
  /** A JSON body from the definition; its string values are templates. */
  readonly body?: unknown
  /** Headers whose values are templates, over the definition's own `headers`. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /**
   * Values that are never templated, added after the definition's own: a page number, a date window,
   * a vendor's cursor. A cursor holding `${...}` is only text.
   */
  readonly literal?: {
    readonly query?: Readonly<Record<string, string>>
    readonly body?: Readonly<Record<string, unknown>>
  }
}

export interface RequestContext {
  readonly baseUrl: URL
  readonly credentials: Readonly<Record<string, Redacted.Redacted<string>>>
  readonly settings: Readonly<Record<string, string | undefined>>
  readonly params?: Readonly<Record<string, string | undefined>>
  readonly now: Date
  /** The definition's `headers`, sent with every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

const credentialsIn = (template: string): string[] =>
  templateReferences(template).references.flatMap((r) =>
    r.kind === "scoped" && r.namespace === "credentials" ? [`credentials.${r.key}`] : [],
  )

export const buildRequest = (
  spec: RequestSpec,
  placements: ReadonlyArray<Placement>,
  context: RequestContext,
): Either.Either<OutgoingRequest, InvalidInput> => {
  const plain: Record<string, string> = {}
  for (const [key, value] of Object.entries(context.credentials)) plain[key] = Redacted.value(value)
  const templateContext = {
    credentials: plain,
    settings: context.settings,
    params: context.params ?? {},
    now: context.now,
  }
  const problems: FieldProblem[] = []
  const missing = (template: string) =>
    problems.push({ field: credentialsIn(template)[0] ?? "request", message: "is required for this request" })
  const renderedOrUndefined = (template: string): string | undefined => {
    try {
      return renderTemplate(template, templateContext)
    } catch {
      return undefined
    }
  }
  const render = (template: string): string | undefined => {
    try {
      return renderTemplate(template, templateContext)
    } catch {
      missing(template)
      return undefined
    }
  }

  const path = render(spec.path) ?? ""
  const queryParts: Array<readonly [string, string]> = []
  for (const [name, template] of Object.entries(spec.query ?? {})) {
    const value = render(template)
    if (value !== undefined) queryParts.push([name, value])
  }
  for (const [name, value] of Object.entries(spec.literal?.query ?? {})) queryParts.push([name, value])

  const headers: Record<string, string> = { accept: "application/json", "user-agent": "keyway/0.1" }
  for (const [name, template] of Object.entries({ ...context.headers, ...spec.headers })) {
    const value = render(template)
    if (value === undefined) continue
    const problem = headerValueProblem(value)
    if (problem) problems.push({ field: `header ${name}`, message: problem })
    else headers[name.toLowerCase()] = value
  }
  const auth = placeAuth(placements, renderedOrUndefined)
  for (const template of auth.unfilled) missing(template)
  const { headers: authHeaders, query } = wireParts(auth.placed)
  authHeaders.forEach(([name, value], index) => {
    const problem = headerValueProblem(value)
    if (!problem) {
      headers[name] = value
      return
    }
    const placed = auth.placed[index]
    const templates =
      placed?.in === "basic"
        ? placements.flatMap((p) => (p.in === "basic" ? [p.username, p.password] : []))
        : placements.flatMap((p) => (p.in === "header" && p.name.toLowerCase() === name ? [p.value] : []))
    const fields = templates.flatMap(credentialsIn)
    for (const field of fields.length > 0 ? fields : [`header ${name}`]) {
      problems.push({ field, message: problem })
    }
  })
  queryParts.push(...query)
  const url = urlOf(context.baseUrl, path, queryParts)

  let body: string | undefined
  if (spec.body !== undefined || spec.literal?.body !== undefined) {
    const renderBody = (value: unknown): unknown => {
      if (typeof value === "string") return render(value)
      if (Array.isArray(value)) return value.map(renderBody)
      if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderBody(item)]))
      }
      return value
    }
    const rendered = spec.body === undefined ? {} : renderBody(spec.body)
    body = JSON.stringify(spec.literal?.body ? { ...(rendered as object), ...spec.literal.body } : rendered)
    headers["content-type"] = "application/json"
  }
  const method = spec.method ?? "GET"
  for (const placement of placements) {
    if (placement.in !== "signer") continue
    const signer = signerNamed(placement.signer)
    if (!signer) {
      problems.push({ field: "auth", message: `names no signer "${placement.signer}"` })
      continue
    }
    const parameters: Record<string, string> = {}
    for (const [name, template] of Object.entries(placement.with)) {
      // An optional parameter (a session token) is left out when its credential was not given.
      const value = signer.parameters[name]?.required === false ? renderedOrUndefined(template) : render(template)
      if (value !== undefined) parameters[name] = value
    }
    if (problems.length > 0) continue
    const signed = signer.sign({ method, url, headers, body }, parameters, context.now)
    for (const [name, value] of Object.entries(signed)) {
      const problem = headerValueProblem(value)
      if (problem) problems.push({ field: `signer ${placement.signer}`, message: problem })
      else headers[name] = value
    }
  }
  if (problems.length > 0) {
    const unique = problems.filter((p, i) => problems.findIndex((q) => q.field === p.field) === i)
    return Either.left(new InvalidInput({ problems: unique }))
  }
  return Either.right({ method, url, headers, ...(body !== undefined ? { body } : {}) })
}

/**
 * What a whole URL would read otherwise than `URL`'s path setter does: `?` and `#` would start a query
 * or fragment, and spaces and controls at the end would be trimmed. Tabs and line breaks the setter drops.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: controls are escaped, as the path setter does.
const READ_OTHERWISE_IN_A_PATH = /[\u0000-\u0020?#]/g
const asThePathSetterWrites = (character: string): string =>
  character === "\t" || character === "\n" || character === "\r"
    ? ""
    : `%${character.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`

/**
 * The request's URL, parsed once: the base URL's path joined with the request's, and the query
 * written whole, each name set once (a later value replaces an earlier one, the base URL's included).
 * Going through `URL`'s path setter and `searchParams` serialized it again at each step, a few
 * microseconds of every request; the path is escaped first, so the result is the setter's.
 */
const urlOf = (base: URL, path: string, query: ReadonlyArray<readonly [string, string]>): URL => {
  const { href, pathname, search, hash } = base
  const origin = href.slice(0, href.length - pathname.length - search.length - hash.length)
  const joined = `${pathname.replace(/\/$/, "")}/${path.replace(/^\//, "")}`.replace(
    READ_OTHERWISE_IN_A_PATH,
    asThePathSetterWrites,
  )
  if (query.length === 0) return new URL(`${origin}${joined}${search}${hash}`)
  const params = new URLSearchParams(search)
  for (const [name, value] of query) params.set(name, value)
  return new URL(`${origin}${joined}?${params}${hash}`)
}

/** HTTP header values are bytes: a character past U+00FF has no single byte to travel as (controls are caught first). */
const BEYOND_LATIN1 = /[^\u0020-\u00ff]/

/** Why `value` cannot be sent as a header value, or undefined when it can. */
const headerValueProblem = (value: string): string | undefined => {
  if (hasControlCharacter(value)) return "contains a line break or control character and cannot be sent in a header"
  if (BEYOND_LATIN1.test(value)) {
    return "contains a character that cannot be sent in an HTTP header (past U+00FF); paste the value again, it may have picked up a look-alike character"
  }
  return undefined
}

/** A request line for logs and attempt lists: method and path, never the query (it may hold keys). */
export const describeRequest = (request: OutgoingRequest): string => `${request.method} ${request.url.pathname}`
