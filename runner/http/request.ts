/**
 * Building one request from a definition: base URL, path and query templating, and the auth
 * placements. Every header value is checked for CR, LF, NUL and other control characters before
 * anything is sent; a problem names the credential, never its value.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { Placement } from "../../core/definition.ts"
import { type FieldProblem, hasControlCharacter } from "../../core/fields.ts"
import { renderTemplate, templateReferences } from "../../core/template.ts"
import type { OutgoingRequest } from "./transport.ts"

/** Input that cannot be sent: wrong or missing fields, or a value that would corrupt a request. */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{ readonly problems: ReadonlyArray<FieldProblem> }> {
  override get message(): string {
    return this.problems.map((p) => `${p.field} ${p.message}`).join("; ")
  }
}

export interface RequestSpec {
  readonly method?: string | undefined
  readonly path: string
  readonly query?: Readonly<Record<string, string>> | undefined
  /** A JSON body; its string values are templates. */
  readonly body?: unknown
}

export interface RequestContext {
  readonly baseUrl: URL
  readonly credentials: Readonly<Record<string, Redacted.Redacted<string>>>
  readonly settings: Readonly<Record<string, string | undefined>>
  readonly params?: Readonly<Record<string, string | undefined>>
  readonly now: Date
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
  const render = (template: string): string | undefined => {
    try {
      return renderTemplate(template, templateContext)
    } catch {
      const missing = credentialsIn(template)
      problems.push({ field: missing[0] ?? "request", message: "is required for this request" })
      return undefined
    }
  }

  const path = render(spec.path) ?? ""
  const url = new URL(context.baseUrl.href)
  url.pathname = `${url.pathname.replace(/\/$/, "")}/${path.replace(/^\//, "")}`
  for (const [name, template] of Object.entries(spec.query ?? {})) {
    const value = render(template)
    if (value !== undefined) url.searchParams.set(name, value)
  }

  const headers: Record<string, string> = { accept: "application/json", "user-agent": "keyway/0.1" }
  const setHeader = (name: string, value: string, template: string) => {
    if (hasControlCharacter(value)) {
      for (const field of credentialsIn(template).length > 0 ? credentialsIn(template) : [`header ${name}`]) {
        problems.push({ field, message: "contains a line break or control character and cannot be sent in a header" })
      }
      return
    }
    headers[name.toLowerCase()] = value
  }
  for (const placement of placements) {
    if (placement.in === "header") {
      const value = render(placement.value)
      if (value !== undefined) setHeader(placement.name, value, placement.value)
    } else if (placement.in === "query") {
      const value = render(placement.value)
      if (value !== undefined) url.searchParams.set(placement.name, value)
    } else {
      const username = render(placement.username)
      const password = render(placement.password)
      if (username !== undefined && password !== undefined) {
        const both = `${placement.username}${placement.password}`
        if (hasControlCharacter(username + password)) setHeader("authorization", "\n", both)
        else setHeader("authorization", `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`, both)
      }
    }
  }
  let body: string | undefined
  if (spec.body !== undefined) {
    const renderBody = (value: unknown): unknown => {
      if (typeof value === "string") return render(value)
      if (Array.isArray(value)) return value.map(renderBody)
      if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderBody(item)]))
      }
      return value
    }
    body = JSON.stringify(renderBody(spec.body))
    headers["content-type"] = "application/json"
  }
  if (problems.length > 0) {
    const unique = problems.filter((p, i) => problems.findIndex((q) => q.field === p.field) === i)
    return Either.left(new InvalidInput({ problems: unique }))
  }
  return Either.right({ method: spec.method ?? "GET", url, headers, ...(body !== undefined ? { body } : {}) })
}

/** A request line for logs and attempt lists: method and path, never the query (it may hold keys). */
export const describeRequest = (request: OutgoingRequest): string => `${request.method} ${request.url.pathname}`
