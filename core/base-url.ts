/**
 * Turns a definition's `baseUrl` and a customer's settings into the URL requests go to, or says why
 * it refuses. This is the one place where the host allow-list is enforced.
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { hostRefusal } from "./addresses.ts"
import type { ConnectorDefinition } from "./definition.ts"
import { hostMatchesAllowList, isLoopbackHost } from "./hosts.ts"
import { MissingTemplateValue, renderTemplate, templateReferences } from "./template.ts"

export type BaseUrlProblem = "malformed" | "not_https" | "host_not_allowed" | "internal_address" | "not_loopback"

export class BaseUrlRejected extends Data.TaggedError("BaseUrlRejected")<{
  readonly problem: BaseUrlProblem
  readonly detail: string
  /** The value the URL needs and was not given, such as `settings.subdomain`. */
  readonly missing?: string
}> {
  override get message(): string {
    return this.detail
  }
}

type Settings = Readonly<Record<string, string | undefined>>

/** The customer's settings, with each unset one taking the definition's default. */
export const withSettingDefaults = (definition: ConnectorDefinition, given: Settings): Settings => {
  const settings: Record<string, string | undefined> = {}
  for (const setting of definition.settings ?? []) settings[setting.key] = setting.default
  for (const [key, value] of Object.entries(given)) if (value !== undefined && value !== "") settings[key] = value
  return settings
}

/** The template a definition uses for these settings, before substitution. */
export const baseUrlTemplate = (definition: ConnectorDefinition, settings: Settings): string => {
  const choice = definition.baseUrl.bySetting
  const chosen = choice ? choice.urls[settings[choice.setting] ?? ""] : undefined
  return chosen ?? definition.baseUrl.url
}

export const resolveBaseUrl = (
  definition: ConnectorDefinition,
  given: Settings,
): Either.Either<URL, BaseUrlRejected> => {
  const settings = withSettingDefaults(definition, given)
  const template = baseUrlTemplate(definition, settings)
  let rendered: string
  try {
    // Base URLs are built from settings only; dates are meaningless here, so the epoch will do.
    rendered = renderTemplate(template, { credentials: {}, settings, now: new Date(0) })
  } catch (error) {
    if (error instanceof MissingTemplateValue) {
      return Either.left(
        new BaseUrlRejected({
          problem: "malformed",
          detail: `the base URL needs a value for \${${error.reference}}`,
          missing: error.reference,
        }),
      )
    }
    throw error
  }
  let url: URL
  try {
    url = new URL(rendered.replace(/\/+$/, ""))
  } catch {
    return Either.left(new BaseUrlRejected({ problem: "malformed", detail: `"${rendered}" is not a valid URL` }))
  }
  if (url.protocol !== "https:") {
    return Either.left(
      new BaseUrlRejected({
        problem: "not_https",
        detail: `"${url.origin}" is not https; credentials are only sent over https`,
      }),
    )
  }
  if (url.username || url.password) {
    return Either.left(
      new BaseUrlRejected({ problem: "malformed", detail: "the base URL must not hold a user name or password" }),
    )
  }
  if (hostMatchesAllowList(url.hostname, definition.baseUrl.allowedHosts)) return Either.right(url)

  const selfHosted = definition.baseUrl.selfHostedSetting
  const fromSelfHostedSetting = templateReferences(template).references.some(
    (r) => r.kind === "scoped" && r.namespace === "settings" && r.key === selfHosted,
  )
  if (selfHosted && fromSelfHostedSetting) {
    const refused = hostRefusal(url.hostname)
    if (refused) {
      return Either.left(
        new BaseUrlRejected({
          problem: "internal_address",
          detail: `${refused}: a self-hosted server must have a public address`,
        }),
      )
    }
    return Either.right(url)
  }
  return Either.left(
    new BaseUrlRejected({
      problem: "host_not_allowed",
      detail: `"${url.hostname}" is not one of this connector's allowed hosts (${definition.baseUrl.allowedHosts.join(", ")})`,
    }),
  )
}

/**
 * The base URL in sandbox mode (`--sandbox`, `KEYWAY_SANDBOX_URL`): the sandbox's URL plus
 * `/<connector-id>`, plus the real base URL's path (`basePath`, such as `/api/v1`), so a fake serves
 * the vendor's endpoints where the vendor does and a definition's request paths are checked whole.
 * The sandbox URL must be loopback, so this override can never send a credential off the machine,
 * whatever the definition's allow-list says.
 */
export const sandboxBaseUrl = (
  connectorId: string,
  sandboxUrl: string,
  basePath = "",
): Either.Either<URL, BaseUrlRejected> => {
  let url: URL
  try {
    url = new URL(sandboxUrl)
  } catch {
    return Either.left(
      new BaseUrlRejected({ problem: "malformed", detail: `sandbox URL "${sandboxUrl}" is not a valid URL` }),
    )
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !isLoopbackHost(url.hostname)) {
    return Either.left(
      new BaseUrlRejected({
        problem: "not_loopback",
        detail: `the sandbox URL must be http on a loopback address (127.0.0.1, ::1, localhost), not "${url.origin}"`,
      }),
    )
  }
  return Either.right(new URL(`${url.origin}/${connectorId}${basePathOf(basePath)}`))
}

/** A base URL's path as a prefix: `/api/v1`, or empty for the root; never a trailing slash. */
export const basePathOf = (path: string): string => {
  const trimmed = path.replace(/\/+$/, "")
  return trimmed === "" ? "" : trimmed.startsWith("/") ? trimmed : `/${trimmed}`
}
