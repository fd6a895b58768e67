/**
 * `keyway new`: a complete, commented connector definition for an API-key vendor, which passes
 * `keyway validate` as written. The engineer then fills in what only the vendor's docs can say.
 */

export type AuthStyle = "header" | "bearer" | "query" | "basic" | "aws-sigv4"

export const WAIT_UNITS = ["seconds", "milliseconds", "epochSeconds", "epochMilliseconds", "httpDate"] as const

export interface ScaffoldInput {
  readonly id: string
  readonly name: string
  /** May hold `{name}` for a customer's value: `https://{subdomain}.vendor.com` or `https://{site}`. */
  readonly baseUrl: string
  readonly auth: AuthStyle
  /** The header for `header`, or the query parameter for `query`. */
  readonly paramName?: string
  /** May hold `{name}` for a value that is not secret, such as an account id: `/Accounts/{accountSid}.json`. */
  readonly testPath: string
  readonly docsUrl?: string
  /** A region picks the base URL: region name to URL; the first is the default. */
  readonly regions?: ReadonlyArray<readonly [string, string]>
  /** Headers every request needs, such as a versioned Accept. */
  readonly headers?: ReadonlyArray<readonly [string, string]>
  /** A read-only POST test (a GraphQL query): its JSON body. */
  readonly testBody?: unknown
  /** A wait header under the vendor's own name. */
  readonly waitHeader?: { readonly name: string; readonly unit: (typeof WAIT_UNITS)[number] }
  /** The key's format, a regular expression its whole value matches. */
  readonly keyPattern?: string
}

/** `{name}` placeholders in a URL or path, in order. */
const placeholders = (text: string): string[] =>
  [...text.matchAll(/\{([A-Za-z][A-Za-z0-9_-]*)\}/g)].map((m) => m[1] as string)
const toTemplate = (text: string, namespace: "settings" | "credentials"): string =>
  text.replace(/\{([A-Za-z][A-Za-z0-9_-]*)\}/g, (_whole, key: string) => `\${${namespace}.${key}}`)

const indent = (text: string, spaces: number): string =>
  text
    .split("\n")
    .map((line) => (line ? " ".repeat(spaces) + line : line))
    .join("\n")

const quote = (text: string): string => JSON.stringify(text)

/** The key's format block, with the engineer's pattern when given. */
const keyFormat = (input: ScaffoldInput, maxLength: number): string =>
  input.keyPattern
    ? `    format:
      # The whole value must match (RE2 syntax). The sandbox generates test keys from it.
      pattern: ${quote(input.keyPattern)}
      noWhitespace: true`
    : `    format:
      minLength: 8
      maxLength: ${maxLength}
      noWhitespace: true`

/** Credentials that are not secret, named in the test path: an account id, a user name. */
const pathCredentials = (input: ScaffoldInput): string =>
  placeholders(input.testPath)
    .map(
      (key) => `  - key: ${key}
    label: ${quote(key)}
    description: Where the customer finds it in ${input.name}.
    # Not a secret (an account id), so it may go in the test path.
    secret: false
    format:
      minLength: 1
      maxLength: 256
`,
    )
    .join("")

const credentialsAndAuth = (input: ScaffoldInput): string => `credentials:
${pathCredentials(input)}${placedCredentials(input).replace(/^credentials:\n/, "")}`

const placedCredentials = (input: ScaffoldInput): string => {
  switch (input.auth) {
    case "header":
      return `credentials:
  - key: apiKey
    label: API key
    description: Where the customer creates it in ${input.name} (for example Settings > API).
    secret: true
${keyFormat(input, 512)}

auth:
  - in: header
    name: ${input.paramName ?? "X-API-Key"}
    value: \${credentials.apiKey}`
    case "bearer":
      return `credentials:
  - key: apiToken
    label: API token
    description: Where the customer creates it in ${input.name} (for example Settings > API).
    secret: true
${keyFormat(input, 4096)}

auth:
  - in: header
    name: Authorization
    value: Bearer \${credentials.apiToken}`
    case "query":
      return `credentials:
  - key: apiKey
    label: API key
    description: Where the customer creates it in ${input.name} (for example Settings > API).
    secret: true
${keyFormat(input, 512)}

auth:
  # Query strings end up in logs: keep this only if ${input.name} accepts the key nowhere else.
  - in: query
    name: ${input.paramName ?? "api_key"}
    value: \${credentials.apiKey}
    reason: ${quote(`${input.name} accepts the key only as the ${input.paramName ?? "api_key"} query parameter.`)}`
    case "basic":
      return `credentials:
  - key: username
    label: User name
    description: The ${input.name} user or account name the key belongs to.
    secret: false
    format:
      minLength: 1
      maxLength: 256
  - key: password
    label: API token
    description: Where the customer creates it in ${input.name}; sent as the Basic auth password.
    secret: true
${keyFormat(input, 4096)}

auth:
  - in: basic
    username: \${credentials.username}
    password: \${credentials.password}`
    case "aws-sigv4":
      return `credentials:
  - key: accessKeyId
    label: Access key ID
    description: Under IAM > Users > Security credentials in the AWS console.
    secret: false
    format:
      pattern: "(AKIA|ASIA)[A-Z0-9]{16}"
    examples: [AKIAIOSFODNN7EXAMPLE]
  - key: secretAccessKey
    label: Secret access key
    description: Shown once, when the access key is created.
    secret: true
    format:
      minLength: 40
      maxLength: 40
      noWhitespace: true

auth:
  # Requests are signed by a signer written in TypeScript (core/signers.ts), not a key in a header.
  - in: signer
    signer: aws-sigv4
    with:
      accessKeyId: \${credentials.accessKeyId}
      secretAccessKey: \${credentials.secretAccessKey}
      region: us-east-1
      service: ${input.id}`
  }
}

/** The settings and base URL: regions pick a URL; `{name}` in the URL is a customer's subdomain or host. */
const settingsAndBaseUrl = (input: ScaffoldInput): string => {
  const url = input.baseUrl.replace(/\/+$/, "")
  if (input.regions && input.regions.length > 0) {
    const [first] = input.regions
    const hosts = [url, ...input.regions.map(([, regionUrl]) => regionUrl)].map((u) => new URL(u).hostname)
    return `settings:
  - key: region
    label: Region
    description: The region the customer's ${input.name} account lives in.
    type: enum
    default: ${first?.[0]}
    options:
${input.regions.map(([region]) => `      - { value: ${region}, label: ${quote(region.toUpperCase())} }`).join("\n")}

baseUrl:
  url: ${url}
  bySetting:
    setting: region
    urls:
${input.regions.map(([region, regionUrl]) => `      ${region}: ${regionUrl.replace(/\/+$/, "")}`).join("\n")}
  # Credentials are only ever sent to these hosts.
  allowedHosts: [${[...new Set(hosts)].join(", ")}]`
  }
  const [key] = placeholders(url)
  if (!key) {
    return `baseUrl:
  url: ${url}
  # Credentials are only ever sent to these hosts.
  allowedHosts: [${new URL(url).hostname}]`
  }
  const wholeHost = new RegExp(`^https://\\{${key}\\}(/|$)`).test(url)
  if (wholeHost) {
    return `settings:
  - key: ${key}
    label: ${quote(`${input.name} site`)}
    description: The host name of the customer's ${input.name} site, such as acme.${input.id}.example, without https://.
    type: host
    required: true

baseUrl:
  url: ${toTemplate(url, "settings")}
  # Any public host the customer names; list the vendor's hosts here if only those are allowed.
  selfHostedSetting: ${key}
  allowedHosts: [${input.id}.example]`
  }
  const domain = new URL(url.replace(`{${key}}`, "sample")).hostname.split(".").slice(1).join(".")
  return `settings:
  - key: ${key}
    label: ${quote(key)}
    description: The customer's ${key} at ${input.name}, as in https://<${key}>.${domain}.
    type: string
    pattern: "[a-z0-9][a-z0-9-]{0,62}"
    required: true
    examples: [acme]

baseUrl:
  url: ${toTemplate(url, "settings")}
  # Credentials are only ever sent to these hosts.
  allowedHosts: ["*.${domain}"]`
}

const headersBlock = (input: ScaffoldInput): string =>
  input.headers && input.headers.length > 0
    ? `
# Sent with every request.
headers:
${input.headers.map(([name, value]) => `  ${name}: ${quote(value)}`).join("\n")}
`
    : ""

const testRequest = (input: ScaffoldInput): string => {
  const lines = [
    `- description: ${quote(`A cheap read from ${input.name}`)}`,
    `  path: ${toTemplate(input.testPath, "credentials")}`,
  ]
  if (input.testBody !== undefined) {
    lines.push(
      "  method: POST",
      `  unsafeMethodReason: ${quote(`${input.name}'s query is sent as a POST; it only reads.`)}`,
      `  body: ${JSON.stringify(input.testBody)}`,
    )
  }
  lines.push("  expect:", "    status: 200", "    json:", "      - { path: $ }")
  return indent(lines.join("\n"), 4)
}

/** Links to the vendor's docs; a base URL with a customer's value in it is no page to link to. */
const docsBlock = (input: ScaffoldInput): string => {
  const link = input.docsUrl ?? (placeholders(input.baseUrl).length === 0 ? input.baseUrl : undefined)
  return link
    ? `docs:
  # Link the vendor's API reference and its guide to creating a key.
  api: ${link}
  credentials: ${link}`
    : `# docs: add the vendor's API reference (api:) and its guide to creating a key (credentials:).`
}

export const scaffoldDefinition = (input: ScaffoldInput): string => {
  return `# yaml-language-server: $schema=./schema.json
#
# ${input.name}. Scaffolded by \`keyway new\`: check every value against ${input.name}'s own API docs,
# then run \`keyway validate\` and \`keyway docs\`. The conformance suite tests this file as it is.
id: ${input.id}
name: ${quote(input.name)}
category: other
${docsBlock(input)}
setup:
  prerequisites:
    - ${quote(`A ${input.name} account whose plan includes API access.`)}
  steps:
    - ${quote(`Sign in to ${input.name} and open its API settings.`)}
    - Create a key for Keyway and copy it.
  securityNotes:
    - Create the key for a user with read access only.

${credentialsAndAuth(input)}

${settingsAndBaseUrl(input)}
${headersBlock(input)}
test:
  requests:
    # A cheap read that needs a valid key and only answers at the right base URL.
${testRequest(input)}

errors:
  # Tried in order; the first match wins. Add body matches (json: {path, equals|contains}) to tell
  # apart an expired key, a missing scope or a plan that lacks API access.
  messagePaths: [message, error, error_description]
  rules:
    - status: 401
      outcome: invalid_credentials
      message: ${quote(`${input.name} rejected the key.`)}
      remediation: Check that the key was copied whole and has not been revoked, or create a new one.
    - status: 403
      outcome: insufficient_permissions
      message: ${quote(`The key is valid but may not read this resource.`)}
      remediation: ${quote(`Use a key of a ${input.name} user with read access.`)}
    - status: 429
      outcome: rate_limited
      message: ${quote(`${input.name} is throttling requests. The key was not rejected.`)}
      remediation: Wait and try again.

rateLimit:
  retryOn: [429, 503]
  waitHeaders: [retry-after${input.waitHeader ? `, { name: ${input.waitHeader.name}, unit: ${input.waitHeader.unit} }` : ""}]
  baseDelayMs: 1000
  maxDelayMs: 30000
  maxAttempts: 5
  saveAndTestBudgetMs: 10000
  syncBudgetMs: 300000
  notes: ${quote(`What ${input.name} publishes about its rate limits.`)}
`
}
