/**
 * `keyway new`: a complete, commented connector definition for an API-key vendor, which passes
 * `keyway validate` as written. The engineer then fills in what only the vendor's docs can say.
 */

export type AuthStyle = "header" | "bearer" | "query" | "basic"

export interface ScaffoldInput {
  readonly id: string
  readonly name: string
  readonly baseUrl: string
  readonly auth: AuthStyle
  /** The header for `header`, or the query parameter for `query`. */
  readonly paramName?: string
  readonly testPath: string
  readonly docsUrl?: string
}

const quote = (text: string): string => JSON.stringify(text)

const credentialsAndAuth = (input: ScaffoldInput): string => {
  switch (input.auth) {
    case "header":
      return `credentials:
  - key: apiKey
    label: API key
    description: Where the customer creates it in ${input.name} (for example Settings > API).
    secret: true
    format:
      minLength: 8
      maxLength: 512
      noWhitespace: true

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
    format:
      minLength: 8
      maxLength: 4096
      noWhitespace: true

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
    format:
      minLength: 8
      maxLength: 512
      noWhitespace: true

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
    format:
      minLength: 8
      maxLength: 4096
      noWhitespace: true

auth:
  - in: basic
    username: \${credentials.username}
    password: \${credentials.password}`
  }
}

export const scaffoldDefinition = (input: ScaffoldInput): string => {
  const host = new URL(input.baseUrl).hostname
  return `# yaml-language-server: $schema=./schema.json
#
# ${input.name}. Scaffolded by \`keyway new\`: check every value against ${input.name}'s own API docs,
# then run \`keyway validate\` and \`keyway docs\`. The conformance suite tests this file as it is.
id: ${input.id}
name: ${quote(input.name)}
category: other
docs:
  # Link the vendor's API reference and its guide to creating a key.
  api: ${input.docsUrl ?? input.baseUrl}
  credentials: ${input.docsUrl ?? input.baseUrl}

setup:
  prerequisites:
    - ${quote(`A ${input.name} account whose plan includes API access.`)}
  steps:
    - ${quote(`Sign in to ${input.name} and open its API settings.`)}
    - Create a key for Keyway and copy it.
  securityNotes:
    - Create the key for a user with read access only.

${credentialsAndAuth(input)}

baseUrl:
  url: ${input.baseUrl.replace(/\/+$/, "")}
  # Credentials are only ever sent to these hosts.
  allowedHosts: [${host}]

test:
  requests:
    # A cheap read that needs a valid key and only answers at the right base URL.
    - description: ${quote(`A cheap read from ${input.name}`)}
      path: ${input.testPath}
      expect:
        status: 200
        json:
          - { path: $ }

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
  waitHeaders: [retry-after]
  baseDelayMs: 1000
  maxDelayMs: 30000
  maxAttempts: 5
  saveAndTestBudgetMs: 10000
  syncBudgetMs: 300000
  notes: ${quote(`What ${input.name} publishes about its rate limits.`)}
`
}
