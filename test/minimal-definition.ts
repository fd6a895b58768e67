/**
 * A small valid definition for loader and lint tests. Tests change one line at a time, so the line
 * numbers in their expected messages can be read straight off this text (line 1 is `id:`).
 */
export const MINIMAL = `id: acme
name: Acme
category: testing
docs:
  api: https://docs.acme.example/api
  credentials: https://docs.acme.example/keys
setup:
  prerequisites: []
  steps: [Create a key.]
credentials:
  - key: apiKey
    label: API key
    description: Under Settings > API.
    secret: true
settings:
  - key: region
    label: Region
    description: Data region.
    type: enum
    default: us
    options: [{ value: us, label: US }, { value: eu, label: EU }]
baseUrl:
  url: https://api.acme.example
  bySetting: { setting: region, urls: { eu: https://eu.acme.example } }
  allowedHosts: [api.acme.example, eu.acme.example]
auth:
  - in: header
    name: X-Api-Key
    value: \${credentials.apiKey}
test:
  requests:
    - path: /v1/me
      query: { since: "\${today}" }
errors:
  rules:
    - { status: 401, outcome: invalid_credentials, message: Bad key., remediation: Make a new key. }
    - { status: 403, outcome: plan_not_eligible, message: Plan., remediation: Upgrade. }
  useDefaultsFor: [429]
rateLimit:
  retryOn: [429, 503]
  waitHeaders: [retry-after]
  baseDelayMs: 1000
  maxDelayMs: 30000
  maxAttempts: 5
  saveAndTestBudgetMs: 10000
  notes: None published.
`

/** MINIMAL with one exact substring replaced; fails loudly if the substring is absent. */
export const minimalWith = (find: string, replace: string): string => {
  if (!MINIMAL.includes(find)) throw new Error(`test setup: "${find}" is not in MINIMAL`)
  return MINIMAL.replace(find, replace)
}
