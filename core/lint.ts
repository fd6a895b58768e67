/**
 * Semantic rules run after a definition passes the schema. Each rule is a named function that
 * returns findings; the loader turns each finding's path into a file:line:col.
 */
import * as Either from "effect/Either"
import { hostRefusal, isIpLiteral } from "./addresses.ts"
import { resolveBaseUrl } from "./base-url.ts"
import { statusMatches } from "./classify.ts"
import type { ConnectorDefinition, Placement, StatusMatch } from "./definition.ts"
import { checkExample } from "./error-examples.ts"
import { checkCredentials, checkSettings, matchesPattern, patternProblem } from "./fields.ts"
import { sampleSettings } from "./samples.ts"
import { SIGNERS, signerNamed } from "./signers.ts"
import { templateReferences } from "./template.ts"

export type Severity = "error" | "warning"
export type FindingPath = ReadonlyArray<string | number>

export interface Finding {
  readonly code: string
  readonly severity: Severity
  readonly path: FindingPath
  readonly message: string
}

type Rule = (definition: ConnectorDefinition) => ReadonlyArray<Finding>

const error = (code: string, path: FindingPath, message: string): Finding => ({
  code,
  severity: "error",
  path,
  message,
})
const warning = (code: string, path: FindingPath, message: string): Finding => ({
  code,
  severity: "warning",
  path,
  message,
})

// ---------------------------------------------------------------------------------------------
// Where templates live in a definition

interface TemplateSite {
  readonly path: FindingPath
  readonly template: string
  /** Namespaces this site may use. */
  readonly allows: ReadonlyArray<"credentials" | "settings" | "params">
  /** The params declared where this site is (a report stream's). */
  readonly params?: ReadonlySet<string>
}

const placementSites = (placements: ReadonlyArray<Placement>, at: FindingPath): TemplateSite[] =>
  placements.flatMap((placement, index): TemplateSite[] => {
    const allows = ["credentials", "settings"] as const
    if (placement.in === "signer") {
      return Object.entries(placement.with).map(
        ([name, template]): TemplateSite => ({ path: [...at, index, "with", name], template, allows }),
      )
    }
    return placement.in === "basic"
      ? [
          { path: [...at, index, "username"], template: placement.username, allows },
          { path: [...at, index, "password"], template: placement.password, allows },
        ]
      : [{ path: [...at, index, "value"], template: placement.value, allows }]
  })

const headerSites = (
  headers: Readonly<Record<string, string>> | undefined,
  at: FindingPath,
  allows: TemplateSite["allows"],
  params?: ReadonlySet<string>,
): TemplateSite[] =>
  Object.entries(headers ?? {}).map(([name, template]) => ({
    path: [...at, "headers", name],
    template,
    allows,
    ...(params ? { params } : {}),
  }))

const requestSites = (
  request: {
    readonly path: string
    readonly query?: Readonly<Record<string, string>> | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
    readonly body?: unknown
  },
  at: FindingPath,
): TemplateSite[] => [
  { path: [...at, "path"], template: request.path, allows: ["settings"] },
  ...Object.entries(request.query ?? {}).map(
    ([name, template]): TemplateSite => ({ path: [...at, "query", name], template, allows: ["settings"] }),
  ),
  ...headerSites(request.headers, at, ["settings"]),
  ...bodyStrings(request.body, [...at, "body"]).map((site): TemplateSite => ({ ...site, allows: ["settings"] })),
]

/** Every string in a JSON body template, with its path. */
const bodyStrings = (value: unknown, at: FindingPath): Array<{ path: FindingPath; template: string }> => {
  if (typeof value === "string") return [{ path: at, template: value }]
  if (Array.isArray(value)) return value.flatMap((item, index) => bodyStrings(item, [...at, index]))
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => bodyStrings(item, [...at, key]))
  }
  return []
}

const streamSites = (definition: ConnectorDefinition): TemplateSite[] =>
  (definition.reports ?? []).flatMap((stream, index) => {
    const at = ["reports", index]
    const params = new Set((stream.params ?? []).map((p) => p.key))
    const allows = ["settings", "params"] as const
    return [
      { path: [...at, "path"], template: stream.path, allows, params },
      ...headerSites(stream.headers, at, allows, params),
      ...Object.entries(stream.query ?? {}).map(
        ([name, template]): TemplateSite => ({ path: [...at, "query", name], template, allows, params }),
      ),
      ...bodyStrings(stream.body ?? {}, [...at, "body"]).map((site): TemplateSite => ({ ...site, allows, params })),
      ...placementSites(stream.auth ?? [], [...at, "auth"]),
    ]
  })

export const templateSites = (definition: ConnectorDefinition): ReadonlyArray<TemplateSite> => [
  { path: ["baseUrl", "url"], template: definition.baseUrl.url, allows: ["settings"] },
  ...headerSites(definition.headers, [], ["settings"]),
  ...placementSites(definition.auth, ["auth"]),
  ...definition.test.requests.flatMap((request, index) => requestSites(request, ["test", "requests", index])),
  ...(definition.test.probes ?? []).flatMap((probe, index) => [
    ...requestSites(probe, ["test", "probes", index]),
    ...placementSites(probe.auth ?? [], ["test", "probes", index, "auth"]),
  ]),
  ...streamSites(definition),
]

const referencedKeys = (definition: ConnectorDefinition, namespace: "credentials" | "settings"): Set<string> =>
  new Set(
    templateSites(definition).flatMap((site) =>
      templateReferences(site.template).references.flatMap((reference) =>
        reference.kind === "scoped" && reference.namespace === namespace ? [reference.key] : [],
      ),
    ),
  )

// ---------------------------------------------------------------------------------------------
// The rules

const uniqueKeys: Rule = (definition) => {
  const findings: Finding[] = []
  for (const list of ["credentials", "settings"] as const) {
    const seen = new Set<string>()
    ;(definition[list] ?? []).forEach((field, index) => {
      if (seen.has(field.key)) {
        findings.push(error("duplicate-key", [list, index, "key"], `"${field.key}" is declared twice`))
      }
      seen.add(field.key)
    })
  }
  return findings
}

const templatesNameDeclaredValues: Rule = (definition) => {
  const credentials = new Set(definition.credentials.map((c) => c.key))
  // A value that is not secret (an account id, a user name) may go anywhere a setting may.
  const notSecret = new Set(definition.credentials.filter((c) => !c.secret).map((c) => c.key))
  const settings = new Set((definition.settings ?? []).map((s) => s.key))
  return templateSites(definition).flatMap((site) => {
    const { references, unclosed } = templateReferences(site.template)
    const findings: Finding[] = []
    if (unclosed) findings.push(error("template-unclosed", site.path, 'has a "${" with no closing "}"'))
    for (const reference of references) {
      if (reference.kind === "invalid") {
        findings.push(
          error(
            "template-unknown-name",
            site.path,
            reference.reason
              ? `\${${reference.raw}}: ${reference.reason}`
              : `\${${reference.raw}} is not a credential, a setting or a built-in (use \${credentials.<key>}, \${settings.<key>} or \${today})`,
          ),
        )
      } else if (reference.kind === "scoped") {
        const { namespace, key } = reference
        const declared = namespace === "credentials" ? credentials : namespace === "settings" ? settings : site.params
        if (!declared?.has(key)) {
          const where = namespace === "params" ? " of this stream" : ""
          findings.push(
            error(
              "template-unknown-name",
              site.path,
              `\${${namespace}.${key}} names no declared ${namespace.slice(0, -1)}${where}`,
            ),
          )
        } else if (
          !(site.allows as ReadonlyArray<string>).includes(namespace) &&
          !(namespace === "credentials" && notSecret.has(key))
        ) {
          findings.push(
            error(
              "template-misplaced",
              site.path,
              `\${${namespace}.${key}} may not be used here: secret credentials go only in auth placements (mark a value that is not secret, such as an account id, secret: false)`,
            ),
          )
        }
      }
    }
    return findings
  })
}

const secretsArePlaced: Rule = (definition) => {
  const placed = referencedKeys(definition, "credentials")
  return definition.credentials.flatMap((credential, index) =>
    credential.secret && !placed.has(credential.key) && !credential.unusedReason
      ? [
          error(
            "secret-unplaced",
            ["credentials", index, "key"],
            `secret "${credential.key}" is placed in no request; place it in auth or give unusedReason`,
          ),
        ]
      : [],
  )
}

const settingsAreUsed: Rule = (definition) => {
  const used = referencedKeys(definition, "settings")
  const chooser = definition.baseUrl.bySetting?.setting
  return (definition.settings ?? []).flatMap((setting, index) =>
    used.has(setting.key) || setting.key === chooser
      ? []
      : [warning("setting-unused", ["settings", index, "key"], `setting "${setting.key}" is used by no template`)],
  )
}

const settingsAreConsistent: Rule = (definition) =>
  (definition.settings ?? []).flatMap((setting, index) => {
    const at = ["settings", index]
    const findings: Finding[] = []
    const values = setting.options?.map((option) => option.value) ?? []
    if (setting.type === "enum" && values.length === 0) {
      findings.push(error("enum-without-options", [...at, "type"], "an enum setting needs options"))
    }
    if (setting.type !== "enum" && setting.options) {
      findings.push(error("options-without-enum", [...at, "options"], "only an enum setting takes options"))
    }
    if (setting.default !== undefined) {
      if (setting.type === "enum" && !values.includes(setting.default)) {
        findings.push(
          error("setting-default-invalid", [...at, "default"], `"${setting.default}" is not one of the options`),
        )
      }
      if (setting.pattern && !patternProblem(setting.pattern) && !matchesPattern(setting.pattern, setting.default)) {
        findings.push(error("setting-default-invalid", [...at, "default"], "the default does not match the pattern"))
      }
    }
    const problem = setting.pattern === undefined ? undefined : patternProblem(setting.pattern)
    if (problem) findings.push(error("bad-pattern", [...at, "pattern"], problem))
    return findings
  })

/** Examples are what the sandbox and the conformance kit use: each must pass its field's own checks. */
const examplesPassTheirChecks: Rule = (definition) => {
  const findings = (
    examples: ReadonlyArray<string> | undefined,
    pattern: string | undefined,
    at: FindingPath,
    field: string,
    check: (example: string) => string | undefined,
  ): Finding[] =>
    // A pattern RE2 cannot run is reported by bad-pattern; its examples cannot be judged.
    pattern && patternProblem(pattern)
      ? []
      : (examples ?? []).flatMap((example, index) => {
          const problem = check(example)
          return problem
            ? [error("example-invalid", [...at, "examples", index], `does not pass the ${field}'s checks: ${problem}`)]
            : []
        })
  return [
    ...definition.credentials.flatMap((credential, index) =>
      findings(
        credential.examples,
        credential.format?.pattern,
        ["credentials", index],
        "credential",
        (example) =>
          checkCredentials({ ...definition, credentials: [credential] }, { [credential.key]: example })[0]?.message,
      ),
    ),
    ...(definition.settings ?? []).flatMap((setting, index) =>
      findings(
        setting.examples,
        setting.pattern,
        ["settings", index],
        "setting",
        (example) => checkSettings({ ...definition, settings: [setting] }, { [setting.key]: example })[0]?.message,
      ),
    ),
  ]
}

const credentialPatternsCompile: Rule = (definition) =>
  definition.credentials.flatMap((credential, index) => {
    const pattern = credential.format?.pattern
    const problem = pattern === undefined ? undefined : patternProblem(pattern)
    return problem ? [error("bad-pattern", ["credentials", index, "format", "pattern"], problem)] : []
  })

const queryCredentialsHaveReason: Rule = (definition) => {
  const secret = new Set(definition.credentials.filter((c) => c.secret).map((c) => c.key))
  const check = (placements: ReadonlyArray<Placement>, at: FindingPath): Finding[] =>
    placements.flatMap((placement, index) =>
      placement.in === "query" &&
      !placement.reason &&
      templateReferences(placement.value).references.some(
        (r) => r.kind === "scoped" && r.namespace === "credentials" && secret.has(r.key),
      )
        ? [
            warning(
              "query-credential-without-reason",
              [...at, index],
              `credential in query parameter "${placement.name}" has no reason: query strings end up in proxy and server logs, so say why the vendor needs it there`,
            ),
          ]
        : [],
    )
  return [
    ...check(definition.auth, ["auth"]),
    ...(definition.test.probes ?? []).flatMap((probe, index) =>
      check(probe.auth ?? [], ["test", "probes", index, "auth"]),
    ),
  ]
}

const testsAreReadOnly: Rule = (definition) => {
  const check = (
    request: { readonly method?: string | undefined; readonly unsafeMethodReason?: string | undefined },
    at: FindingPath,
  ): Finding[] => {
    const method = request.method ?? "GET"
    return method === "GET" || method === "HEAD" || request.unsafeMethodReason
      ? []
      : [
          error(
            "test-not-read-only",
            [...at, "method"],
            `${method} may change data; a test must be GET or HEAD unless unsafeMethodReason says why`,
          ),
        ]
  }
  return [
    ...definition.test.requests.flatMap((request, index) => check(request, ["test", "requests", index])),
    ...(definition.test.probes ?? []).flatMap((probe, index) => check(probe, ["test", "probes", index])),
  ]
}

const keyStatusesAreMapped: Rule = (definition) =>
  [401, 403, 429].flatMap((status) =>
    definition.errors.rules.some((rule) => statusMatches(rule.status, status)) ||
    definition.errors.useDefaultsFor?.includes(status)
      ? []
      : [
          error(
            "status-unmapped",
            ["errors", "rules"],
            `no rule maps ${status}; add one, or list ${status} in errors.useDefaultsFor`,
          ),
        ],
  )

const authStatusesAreNeverRetried: Rule = (definition) =>
  definition.rateLimit.retryOn.flatMap((status, index) =>
    [401, 403, 404].includes(status)
      ? [error("retry-on-auth-failure", ["rateLimit", "retryOn", index], `${status} must never be retried`)]
      : [],
  )

const delaysAreOrdered: Rule = (definition) =>
  definition.rateLimit.maxDelayMs < definition.rateLimit.baseDelayMs
    ? [error("delay-order", ["rateLimit", "maxDelayMs"], "must be at least baseDelayMs")]
    : []

/** Every base URL a customer can choose resolves to https on an allowed host. */
const baseUrlsAreSafe: Rule = (definition) => {
  const findings: Finding[] = []
  const check = (settings: Record<string, string>, path: FindingPath) => {
    const resolved = resolveBaseUrl(definition, settings)
    if (Either.isLeft(resolved)) {
      findings.push(error(`base-url-${resolved.left.problem.replace(/_/g, "-")}`, path, resolved.left.detail))
    }
  }
  // A setting the customer must give (a subdomain) is checked with a sample value, as a customer's would be.
  check(sampleSettings(definition), ["baseUrl", "url"])
  const chooser = definition.baseUrl.bySetting
  if (chooser) {
    const declared = (definition.settings ?? []).find((s) => s.key === chooser.setting)
    if (!declared) {
      findings.push(
        error("template-unknown-name", ["baseUrl", "bySetting", "setting"], `no setting "${chooser.setting}"`),
      )
    }
    for (const value of Object.keys(chooser.urls)) {
      check({ [chooser.setting]: value }, ["baseUrl", "bySetting", "urls", value])
      if (declared && !declared.options?.some((option) => option.value === value)) {
        findings.push(
          error(
            "unknown-choice",
            ["baseUrl", "bySetting", "urls", value],
            `"${value}" is not an option of setting "${chooser.setting}"`,
          ),
        )
      }
    }
  }
  const selfHosted = definition.baseUrl.selfHostedSetting
  if (
    selfHosted &&
    !(definition.settings ?? []).some((s) => s.key === selfHosted && (s.type === "url" || s.type === "host"))
  ) {
    findings.push(
      error("template-unknown-name", ["baseUrl", "selfHostedSetting"], `no url or host setting "${selfHosted}"`),
    )
  }
  return findings
}

const streamsAreConsistent: Rule = (definition) => {
  const findings: Finding[] = []
  const seen = new Set<string>()
  const credentials = new Set(definition.credentials.map((c) => c.key))
  ;(definition.reports ?? []).forEach((stream, index) => {
    const at = ["reports", index]
    if (seen.has(stream.id))
      findings.push(error("duplicate-key", [...at, "id"], `stream "${stream.id}" is declared twice`))
    seen.add(stream.id)
    const method = stream.method ?? "GET"
    const needsBody = stream.paging.kind === "window" || stream.paging.kind === "feed"
    if (needsBody && method !== "POST") {
      findings.push(
        error(
          "paging-needs-post",
          [...at, "method"],
          `${stream.paging.kind} paging sends a body, so the method must be POST`,
        ),
      )
    }
    for (const [keyIndex, key] of (stream.whenCredentials ?? []).entries()) {
      if (!credentials.has(key)) {
        findings.push(error("template-unknown-name", [...at, "whenCredentials", keyIndex], `no credential "${key}"`))
      }
    }
    const params = new Set((stream.params ?? []).map((p) => p.key))
    for (const [groupIndex, group] of (stream.exclusiveParams ?? []).entries()) {
      for (const [keyIndex, key] of group.entries()) {
        if (!params.has(key)) {
          findings.push(
            error(
              "template-unknown-name",
              [...at, "exclusiveParams", groupIndex, keyIndex],
              `no param "${key}" in this stream`,
            ),
          )
        }
      }
    }
  })
  return findings
}

const hasTestRequest: Rule = (definition) =>
  definition.test.requests.length > 0
    ? []
    : [
        warning(
          "no-test-request",
          ["test", "requests"],
          "no test request: save & test can only check the credentials' format, and will say tested: false",
        ),
      ]

const docsAreLinked: Rule = (definition) =>
  (["api", "credentials"] as const).flatMap((link) =>
    definition.docs?.[link]
      ? []
      : [
          warning(
            "missing-docs",
            definition.docs ? ["docs"] : ["id"],
            `no docs.${link} link: the generated customer page points to the vendor's ${link === "api" ? "API reference" : "key-creation guide"}`,
          ),
        ],
  )

const testsUseTheNarrowestScope: Rule = (definition) => {
  const scopes = (definition.scopes ?? []).map((s) => s.name)
  return definition.test.requests.flatMap((request, index) => {
    const scope = request.requiresScope
    if (scope === undefined) return []
    if (!scopes.includes(scope)) {
      return [
        error(
          "template-unknown-name",
          ["test", "requests", index, "requiresScope"],
          `"${scope}" is not one of the scopes`,
        ),
      ]
    }
    return scope === scopes[0]
      ? []
      : [
          warning(
            "test-needs-more-privilege",
            ["test", "requests", index, "requiresScope"],
            `the test needs ${scope}, but the narrowest key is ${scopes[0]}: a least-privilege key would fail save & test`,
          ),
        ]
  })
}

/** The statuses a match can cover: exact numbers, or a whole class. */
const covers = (earlier: StatusMatch, later: StatusMatch): boolean => {
  const numbers = (match: StatusMatch): number[] =>
    typeof match === "number" ? [match] : typeof match === "string" ? [] : [...match]
  if (typeof earlier === "string") {
    const hundred = Number(earlier[0])
    return typeof later === "string" ? later === earlier : numbers(later).every((s) => Math.floor(s / 100) === hundred)
  }
  if (typeof later === "string") return false
  return numbers(later).every((status) => numbers(earlier).includes(status))
}

const rulesCanMatch: Rule = (definition) =>
  definition.errors.rules.flatMap((rule, index) => {
    const shadow = definition.errors.rules
      .slice(0, index)
      .findIndex(
        (earlier) => !earlier.json && !earlier.bodyContains && !earlier.header && covers(earlier.status, rule.status),
      )
    return shadow < 0
      ? []
      : [
          warning(
            "rule-shadowed",
            ["errors", "rules", index],
            `can never match: rule ${shadow + 1} matches every response this one would; move this rule above it`,
          ),
        ]
  })

/**
 * Each response quoted in `errors.examples` gives the outcome it expects, through the real classifier.
 * A warning, so a definition whose rule is still being written keeps loading; `--strict` and the
 * conformance suite fail on it.
 */
const errorExamplesHold: Rule = (definition) =>
  (definition.errors.examples ?? []).flatMap((example, index) => {
    const { mismatches } = checkExample(definition, example)
    return mismatches.length === 0
      ? []
      : [warning("error-example-mismatch", ["errors", "examples", index], mismatches.join("; "))]
  })

const probesNameCredentials: Rule = (definition) => {
  const credentials = new Set(definition.credentials.map((c) => c.key))
  return (definition.test.probes ?? []).flatMap((probe, index) =>
    (probe.whenCredentials ?? []).flatMap((key, keyIndex) =>
      credentials.has(key)
        ? []
        : [
            error(
              "template-unknown-name",
              ["test", "probes", index, "whenCredentials", keyIndex],
              `no credential "${key}"`,
            ),
          ],
    ),
  )
}

/**
 * Why an allow-list entry could let credentials go somewhere a vendor is not, or undefined. An entry
 * must name one vendor's hosts: two labels at least, the last two literal, never an address or a
 * name for an internal network.
 */
const allowedHostProblem = (entry: string): string | undefined => {
  const labels = entry.toLowerCase().split(".")
  if (labels.length < 2) return "names no domain: it is a single label or wildcard"
  if (labels.slice(-2).some((label) => label.includes("*"))) return "leaves the domain itself to a wildcard"
  // Wildcards stand for labels of letters or digits: if digits could make it an address, it is one.
  const sample = entry.replace(/\*/g, "1")
  if (isIpLiteral(sample)) return "is an IP address, or a pattern of them"
  if (hostRefusal(sample)) return "names the local machine or an internal network"
  return undefined
}

const allowedHostsAreNarrow: Rule = (definition) =>
  definition.baseUrl.allowedHosts.flatMap((entry, index) => {
    const problem = allowedHostProblem(entry)
    return problem
      ? [
          error(
            "allowed-host-too-broad",
            ["baseUrl", "allowedHosts", index],
            `"${entry}" ${problem}; list the vendor's own host names, such as api.vendor.com or *.vendor.com`,
          ),
        ]
      : []
  })

/** A signer placement names a known signer and gives exactly its parameters, secrets from secret credentials. */
const signersAreKnown: Rule = (definition) => {
  const secretKeys = new Set(definition.credentials.filter((c) => c.secret).map((c) => c.key))
  const check = (placements: ReadonlyArray<Placement>, at: FindingPath): Finding[] =>
    placements.flatMap((placement, index) => {
      if (placement.in !== "signer") return []
      const here = [...at, index]
      const signer = signerNamed(placement.signer)
      if (!signer) {
        return [
          error(
            "unknown-signer",
            [...here, "signer"],
            `no signer "${placement.signer}" (signers: ${Object.keys(SIGNERS).join(", ")}); a new one is written in TypeScript, see core/signers.ts`,
          ),
        ]
      }
      const findings: Finding[] = []
      for (const [name, parameter] of Object.entries(signer.parameters)) {
        const template = placement.with[name]
        if (template === undefined) {
          if (parameter.required) {
            findings.push(error("signer-parameter-missing", [...here, "with"], `${placement.signer} needs "${name}"`))
          }
          continue
        }
        const fromSecret = templateReferences(template).references.some(
          (r) => r.kind === "scoped" && r.namespace === "credentials" && secretKeys.has(r.key),
        )
        if (parameter.secret && !fromSecret) {
          findings.push(
            error(
              "signer-secret-not-credential",
              [...here, "with", name],
              `"${name}" is a secret: take it from a secret credential, \${credentials.<key>}`,
            ),
          )
        }
      }
      for (const name of Object.keys(placement.with)) {
        if (!Object.hasOwn(signer.parameters, name)) {
          findings.push(
            error(
              "signer-parameter-unknown",
              [...here, "with", name],
              `${placement.signer} takes no "${name}" (it takes ${Object.keys(signer.parameters).join(", ")})`,
            ),
          )
        }
      }
      return findings
    })
  return [
    ...check(definition.auth, ["auth"]),
    ...(definition.test.probes ?? []).flatMap((probe, index) =>
      check(probe.auth ?? [], ["test", "probes", index, "auth"]),
    ),
    ...(definition.reports ?? []).flatMap((stream, index) => check(stream.auth ?? [], ["reports", index, "auth"])),
  ]
}

export const RULES: ReadonlyArray<Rule> = [
  uniqueKeys,
  templatesNameDeclaredValues,
  secretsArePlaced,
  settingsAreUsed,
  settingsAreConsistent,
  credentialPatternsCompile,
  examplesPassTheirChecks,
  queryCredentialsHaveReason,
  signersAreKnown,
  testsAreReadOnly,
  keyStatusesAreMapped,
  authStatusesAreNeverRetried,
  delaysAreOrdered,
  baseUrlsAreSafe,
  allowedHostsAreNarrow,
  probesNameCredentials,
  streamsAreConsistent,
  hasTestRequest,
  docsAreLinked,
  testsUseTheNarrowestScope,
  rulesCanMatch,
  errorExamplesHold,
]

export const lintDefinition = (definition: ConnectorDefinition): ReadonlyArray<Finding> =>
  RULES.flatMap((rule) => rule(definition))

/** Thrown by a partly decoded definition when a rule reads a part that did not decode. */
export class PartUndecoded extends Error {
  constructor(readonly part: string) {
    super(`${part} did not decode`)
  }
}

/**
 * The rules over a definition of which only some parts decoded: each rule that reads only good parts
 * runs; one that reads a broken part stops there, since that part's schema errors are reported already.
 */
export const lintDecodedParts = (partial: () => ConnectorDefinition): ReadonlyArray<Finding> =>
  RULES.flatMap((rule) => {
    try {
      return rule(partial())
    } catch (error) {
      if (error instanceof PartUndecoded) return []
      throw error
    }
  })
