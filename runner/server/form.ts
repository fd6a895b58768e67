/**
 * The connect form, for a host application's customer: a page generated from the definition (setup
 * steps, one input per credential and setting, the same format rules the server applies), that
 * works as a plain form POST and better with its script. Submitting runs the one save & test path.
 *
 * A page is opened with a connect session's token. The session names the host page's origin: the
 * only one that may frame the form (CSP frame-ancestors) and the only one its messages go to.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { type ConnectorForm, connectorForm, type FormField } from "../../core/form.ts"
import type { CheckResult } from "../check/check.ts"
import { CONNECT_SCRIPT, FORM_SCRIPT, FORM_STYLE } from "./assets.ts"
import { type KeywayServer, KeywayServerTag, retestIn, saveAndTest } from "./service.ts"
import type { SessionRecord } from "./state.ts"

/** A form post is a few credentials: more is refused before it is read. */
export const FORM_BODY_LIMIT = 16 * 1024

export const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  )

/** A session's CSRF token: bound to the session, unguessable without the server's secret. */
const csrfSecret = randomBytes(32)
const csrfFor = (token: string): string => createHmac("sha256", csrfSecret).update(token).digest("base64url")
const csrfMatches = (token: string, given: string): boolean => {
  const expected = Buffer.from(csrfFor(token))
  const actual = Buffer.from(given)
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** Headers on every form page: a strict CSP, framed only by the session's origin, never cached. */
const pageHeaders = (frameAncestor: string | undefined) => ({
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    `frame-ancestors ${frameAncestor ?? "'none'"}`,
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
})

const page = (title: string, body: string, session: SessionRecord | undefined, status = 200) =>
  HttpServerResponse.text(
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/form.css">
<script src="/form.js" defer></script>
</head>
<body data-origin="${escapeHtml(session?.allowedOrigin ?? "")}">
<main>
${body}
</main>
</body>
</html>
`,
    { status, contentType: "text/html; charset=utf-8", headers: pageHeaders(session?.allowedOrigin) },
  )

const problemPage = (title: string, message: string, status: number, session?: SessionRecord) =>
  page(title, `<h1>${escapeHtml(title)}</h1>\n<p role="alert">${escapeHtml(message)}</p>`, session, status)

/** Why a page or a post is refused: shown as a page, or as JSON to the form's script. */
interface Refusal {
  readonly title: string
  readonly message: string
  readonly status: number
  readonly code: string
  readonly session?: SessionRecord | undefined
}

const refusal = (json: boolean, { title, message, status, code, session }: Refusal) =>
  json
    ? HttpServerResponse.unsafeJson(
        { ok: false, code, message, problems: {} },
        { status, headers: pageHeaders(session?.allowedOrigin) },
      )
    : problemPage(title, message, status, session)

/** The session a token names, if it is still good; otherwise why not. */
const usableSession = (server: KeywayServer, token: string) =>
  Effect.map(
    Effect.orElseSucceed(server.state.session(token), () => undefined),
    (session): { readonly session: SessionRecord } | { readonly refused: Refusal } => {
      if (!session) {
        const message = "This connect link is not valid. Ask for a new one."
        return { refused: { title: "Link not valid", message, status: 404, code: "session_not_found" } }
      }
      if (session.usedAt) {
        const message = "This connect link was used already. Ask for a new one."
        return { refused: { title: "Link already used", message, status: 410, code: "session_used", session } }
      }
      if (Date.parse(session.expiresAt) <= Date.now()) {
        const message = "This connect link has expired. Ask for a new one."
        return { refused: { title: "Link expired", message, status: 410, code: "session_expired", session } }
      }
      return { session }
    },
  )

const connectorsOf = (server: KeywayServer, session: SessionRecord): ConnectorDefinition[] =>
  [...server.definitions.values()].filter((d) => !session.allowedConnectors || session.allowedConnectors.includes(d.id))

const fieldHtml = (field: FormField, value: string | undefined, problem: string | undefined): string => {
  const id = `field-${field.kind}-${field.key}`
  const name = `${field.kind === "credential" ? "credentials" : "settings"}.${field.key}`
  const help = [
    field.description,
    field.hint ? `Format: ${field.hint}.` : "",
    field.example ? `For example ${field.example}.` : "",
  ]
    .filter(Boolean)
    .join(" ")
  const described = `${id}-help ${id}-problem`
  const common = `id="${id}" name="${escapeHtml(name)}" aria-describedby="${described}"${field.required ? " required" : ""}${problem ? ' aria-invalid="true"' : ""}`
  const control =
    field.input === "select"
      ? `<select ${common}>${(field.options ?? [])
          .map(
            (option) =>
              `<option value="${escapeHtml(option.value)}"${(value ?? field.default) === option.value ? " selected" : ""}>${escapeHtml(option.label)}</option>`,
          )
          .join("")}</select>`
      : `<input ${common} type="${field.input === "password" ? "password" : field.input === "url" ? "url" : "text"}" autocomplete="off" spellcheck="false"${
          field.secret ? "" : ` value="${escapeHtml(value ?? field.default ?? "")}"`
        }${field.pattern ? ` data-pattern="${escapeHtml(field.pattern)}"` : ""}${field.hint ? ` data-hint="${escapeHtml(field.hint)}"` : ""}${
          field.minLength !== undefined ? ` minlength="${field.minLength}"` : ""
        }${field.maxLength !== undefined ? ` maxlength="${field.maxLength}"` : ""}${field.noWhitespace ? " data-no-whitespace" : ""}>`
  return `<div class="field">
<label for="${id}">${escapeHtml(field.label)}${field.required ? "" : ' <span class="optional">(optional)</span>'}</label>
${control}
<p class="help" id="${id}-help">${escapeHtml(help)}</p>
<p class="problem" id="${id}-problem" aria-live="polite">${escapeHtml(problem ?? "")}</p>
</div>`
}

const formHtml = (
  form: ConnectorForm,
  token: string,
  session: SessionRecord,
  values: Readonly<Record<string, string>>,
  problems: Readonly<Record<string, string>>,
): string => {
  const groups = new Map<string, FormField[]>()
  for (const field of form.fields) {
    const group = field.group ?? ""
    groups.set(group, [...(groups.get(group) ?? []), field])
  }
  const fields = [...groups.entries()]
    .map(([group, members]) => {
      const inner = members
        .map((field) =>
          fieldHtml(
            field,
            values[`${field.kind}.${field.key}`],
            problems[`${field.kind === "credential" ? "credentials" : "settings"}.${field.key}`],
          ),
        )
        .join("\n")
      return group ? `<fieldset><legend>${escapeHtml(group)}</legend>\n${inner}\n</fieldset>` : inner
    })
    .join("\n")
  const links = [
    form.docs?.credentials
      ? `<a href="${escapeHtml(form.docs.credentials)}" target="_blank" rel="noopener noreferrer">${escapeHtml(form.name)}'s guide to creating a key</a>`
      : "",
  ].filter(Boolean)
  return `<h1>Connect ${escapeHtml(form.name)}</h1>
${session.reconnect ? `<p>Enter new credentials: they replace the saved ones only if ${escapeHtml(form.name)} accepts them.</p>` : ""}
${form.prerequisites.length > 0 ? `<h2>What you'll need</h2>\n<ul>${form.prerequisites.map((p) => `<li>${escapeHtml(p)}</li>`).join("")}</ul>` : ""}
<h2>Steps</h2>
<ol>${form.steps.map((s) => `<li>${escapeHtml(s)}</li>`).join("")}</ol>
${links.length > 0 ? `<p>${links.join(" · ")}</p>` : ""}
<form method="post" action="/connect/${escapeHtml(token)}/${escapeHtml(form.id)}" novalidate data-connector="${escapeHtml(form.id)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrfFor(token))}">
${fields}
<div class="actions">
<button type="submit">Save and test</button>
<button type="button" class="secondary" data-close hidden>Cancel</button>
</div>
<div id="outcome" role="status" aria-live="polite" tabindex="-1"></div>
</form>
${form.securityNotes.length > 0 ? `<h2>Security</h2>\n<ul>${form.securityNotes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>` : ""}`
}

/** What the customer reads after a check: outcome, message, remediation, and any wait for the vendor. */
const outcomeHtml = (result: CheckResult): string => {
  const waits = result.attempts.filter((a) => a.waitMs !== undefined)
  const waited =
    waits.length > 0
      ? `<p class="waited">Keyway waited ${waits
          .map(
            (a) =>
              `${((a.waitMs ?? 0) / 1000).toFixed(1)} s (${a.status === 429 ? `${result.connector} asked it to slow down` : "a retry after a failure"})`,
          )
          .join(", then ")}, then tried again.</p>`
      : ""
  const ok = result.verdict.outcome === "connected"
  return `<div class="${ok ? "success" : "failure"}" data-outcome="${escapeHtml(result.verdict.outcome)}" data-code="${escapeHtml(result.verdict.code)}">
<p><strong>${escapeHtml(ok ? "Connected." : result.verdict.message)}</strong></p>
${ok ? "" : `<p>${escapeHtml(result.verdict.remediation)}</p>`}
${waited}
</div>`
}

interface Submitted {
  readonly credentials: Record<string, string>
  readonly settings: Record<string, string>
  readonly csrf: string
}

const readSubmission = (body: ReadonlyArray<readonly [string, string]>): Submitted => {
  const credentials: Record<string, string> = {}
  const settings: Record<string, string> = {}
  let csrf = ""
  for (const [name, value] of body) {
    if (name === "csrf") csrf = value
    else if (name.startsWith("credentials.") && value !== "") credentials[name.slice(12)] = value
    else if (name.startsWith("settings.") && value !== "") settings[name.slice(9)] = value
  }
  return { credentials, settings, csrf }
}

const wantsJson = (request: HttpServerRequest.HttpServerRequest) =>
  (request.headers.accept ?? "").includes("application/json")

const showForm = Effect.gen(function* () {
  const server = yield* KeywayServerTag
  const params = yield* HttpRouter.params
  const token = params.token ?? ""
  const found = yield* usableSession(server, token)
  if ("refused" in found) return refusal(false, found.refused)
  const session = found.session
  const allowed = connectorsOf(server, session)
  const reconnecting = session.reconnect
    ? yield* Effect.orElseSucceed(server.state.storeFor(session.workspace).get(session.reconnect), () => undefined)
    : undefined
  const connectorId = params.connector ?? reconnecting?.connector ?? (allowed.length === 1 ? allowed[0]?.id : undefined)
  if (!connectorId) {
    return page(
      "Choose a service",
      `<h1>Choose the service to connect</h1>\n<ul class="choices">${allowed
        .map((d) => `<li><a href="/connect/${escapeHtml(token)}/${escapeHtml(d.id)}">${escapeHtml(d.name)}</a></li>`)
        .join("")}</ul>`,
      session,
    )
  }
  const definition = allowed.find((d) => d.id === connectorId)
  if (!definition) return problemPage("Not available", "This link does not allow that service.", 404, session)
  const defaults = session.defaults?.[definition.id] ?? reconnecting?.settings ?? {}
  const values = Object.fromEntries(Object.entries(defaults).map(([key, value]) => [`setting.${key}`, value]))
  return page(`Connect ${definition.name}`, formHtml(connectorForm(definition), token, session, values, {}), session)
})

const submitForm = Effect.gen(function* () {
  const server = yield* KeywayServerTag
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = yield* HttpRouter.params
  const token = params.token ?? ""
  const json = wantsJson(request)
  const length = Number(request.headers["content-length"] ?? "0")
  if (length > FORM_BODY_LIMIT) {
    const message = "The form sent more than Keyway accepts."
    return refusal(json, { title: "Too large", message, status: 413, code: "too_large" })
  }
  const found = yield* usableSession(server, token)
  if ("refused" in found) return refusal(json, found.refused)
  const session = found.session
  const definition = connectorsOf(server, session).find((d) => d.id === params.connector)
  if (!definition) {
    const message = "This link does not allow that service."
    return refusal(json, { title: "Not available", message, status: 404, code: "unknown_connector", session })
  }
  const body = yield* Effect.orElseSucceed(request.urlParamsBody, () => [] as ReadonlyArray<readonly [string, string]>)
  const submitted = readSubmission(body)
  // A cross-site page cannot read the CSRF token, so it cannot post one: only this form can.
  if (!csrfMatches(token, submitted.csrf)) {
    const message = "This form post did not come from the connect form. Open the link again."
    return refusal(json, { title: "Refused", message, status: 403, code: "csrf_refused", session })
  }
  const respond = (result: CheckResult | undefined, problems: Record<string, string>, connectionId?: string) => {
    if (json) {
      return HttpServerResponse.unsafeJson(
        {
          ok: connectionId !== undefined,
          ...(result ? {} : { code: "invalid_input", message: "Some fields need correcting." }),
          ...(connectionId ? { connectionId } : {}),
          ...(result
            ? {
                outcome: result.verdict.outcome,
                code: result.verdict.code,
                message: result.verdict.message,
                remediation: result.verdict.remediation,
                html: outcomeHtml(result),
              }
            : {}),
          problems,
          ...(connectionId && session.returnUrl ? { returnUrl: session.returnUrl } : {}),
        },
        { headers: pageHeaders(session.allowedOrigin) },
      )
    }
    if (connectionId && session.returnUrl) {
      const url = new URL(session.returnUrl)
      url.searchParams.set("connection", connectionId)
      return HttpServerResponse.redirect(url.href, { status: 303, headers: pageHeaders(session.allowedOrigin) })
    }
    // A failed test keeps what was typed, except the secrets.
    const values = Object.fromEntries(
      Object.entries(submitted.settings).map(([key, value]) => [`setting.${key}`, value]),
    )
    for (const field of connectorForm(definition).fields) {
      if (field.kind === "credential" && !field.secret && submitted.credentials[field.key]) {
        values[`credential.${field.key}`] = submitted.credentials[field.key] as string
      }
    }
    const form = formHtml(connectorForm(definition), token, session, values, problems)
    const shown = result
      ? form.replace(
          '<div id="outcome" role="status" aria-live="polite" tabindex="-1"></div>',
          `<div id="outcome" role="status" aria-live="polite" tabindex="-1">${outcomeHtml(result)}</div>`,
        )
      : form
    return page(
      `Connect ${definition.name}`,
      connectionId ? `<h1>${escapeHtml(definition.name)} connected</h1>\n${outcomeHtml(result as CheckResult)}` : shown,
      session,
      connectionId ? 200 : 422,
    )
  }

  const limited = yield* Effect.either(server.takeCheck(session.workspace, token))
  if (limited._tag === "Left") {
    const message = `Too many attempts. Wait ${limited.left.retryAfterSeconds} s, then try again.`
    return refusal(json, { title: "Too many attempts", message, status: 429, code: "too_many_checks", session })
  }
  const credentials = Object.fromEntries(Object.entries(submitted.credentials).map(([k, v]) => [k, Redacted.make(v)]))
  const outcome = yield* Effect.either(
    server.state.consumeSession(
      token,
      () =>
        session.reconnect
          ? Effect.map(
              retestIn(server, session.workspace, session.reconnect, submitted.credentials, undefined, "form"),
              (done) => ({
                value: { result: done.result, connectionId: done.replaced ? done.connection.id : undefined },
                ...(done.replaced ? { connectionId: done.connection.id } : {}),
              }),
            )
          : Effect.map(
              saveAndTest(
                server,
                session.workspace,
                definition,
                {
                  connectorId: definition.id,
                  credentials,
                  settings: submitted.settings,
                  ...(session.tags ? { tags: session.tags } : {}),
                  endUser: session.endUser,
                },
                "form",
              ),
              (done) => ({
                value: { result: done.result, connectionId: done.connection?.id },
                ...(done.connection ? { connectionId: done.connection.id } : {}),
              }),
            ),
      Date.now(),
    ),
  )
  if (outcome._tag === "Left") {
    const error = outcome.left as { _tag?: string; problems?: ReadonlyArray<{ field: string; message: string }> }
    if (error._tag === "InvalidInput") {
      return respond(undefined, Object.fromEntries((error.problems ?? []).map((p) => [p.field, p.message])))
    }
    if (error._tag === "SessionUsed") {
      const message = "This connect link was used already."
      return refusal(json, { title: "Link already used", message, status: 410, code: "session_used", session })
    }
    const message = "Keyway cannot save connections right now. Try again shortly."
    return refusal(json, { title: "Not available", message, status: 503, code: "store_unavailable", session })
  }
  return respond(outcome.right.result, {}, outcome.right.connectionId)
})

const asset = (body: string, type: string) =>
  Effect.succeed(
    HttpServerResponse.text(body, {
      contentType: type,
      headers: { "x-content-type-options": "nosniff", "cache-control": "no-cache" },
    }),
  )

export const formRoutes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/connect/:token", showForm),
  HttpLayerRouter.add("GET", "/connect/:token/:connector", showForm),
  // A stop lets a customer's check finish and write (see serve.ts).
  HttpLayerRouter.add("POST", "/connect/:token/:connector", Effect.uninterruptible(submitForm)),
  HttpLayerRouter.add("GET", "/connect.js", asset(CONNECT_SCRIPT, "text/javascript; charset=utf-8")),
  HttpLayerRouter.add("GET", "/form.js", asset(FORM_SCRIPT, "text/javascript; charset=utf-8")),
  HttpLayerRouter.add("GET", "/form.css", asset(FORM_STYLE, "text/css; charset=utf-8")),
)
