import { describe, expect, it } from "vitest"
import { formatProblem, loadDefinitionText } from "../core/load.ts"
import { MINIMAL, minimalWith } from "./minimal-definition.ts"

const FILE = "connectors/acme.yaml"
const messages = (text: string): string[] => loadDefinitionText(FILE, text).problems.map(formatProblem)

describe("loading a definition", () => {
  it("accepts the minimal definition with no findings", () => {
    const result = loadDefinitionText(FILE, MINIMAL)
    expect(result.problems).toEqual([])
    expect(result.definition?.id).toBe("acme")
  })

  it("reports malformed YAML at its line and column, every error at once", () => {
    const result = messages("id: acme\nname: [unclosed\n  foo: : bar\n")
    expect(result).toEqual([
      "connectors/acme.yaml:2:8 Implicit keys of flow sequence pairs need to be on a single line",
      "connectors/acme.yaml:3:8 Unexpected : in flow sequence",
      "connectors/acme.yaml:4:1 Flow sequence in block collection must be sufficiently indented and end with a ]",
    ])
  })

  it("reports a duplicate YAML key instead of silently keeping the last", () => {
    expect(messages(minimalWith("name: Acme\n", "name: Acme\nname: Again\n"))).toEqual([
      "connectors/acme.yaml:3:1 Map keys must be unique",
    ])
  })

  it("reports an unknown key at the key itself", () => {
    expect(messages(minimalWith("  maxAttempts: 5\n", "  maxAttempts: 5\n  maxAtempts: 6\n"))).toEqual([
      "connectors/acme.yaml:45:3 rateLimit.maxAtempts: unknown key",
    ])
  })

  it("reports wrong types at the value, and all of them together", () => {
    const text = minimalWith("    secret: true\n", "    secret: yes please\n").replace(
      "  maxAttempts: 5\n",
      "  maxAttempts: lots\n",
    )
    expect(messages(text)).toEqual([
      'connectors/acme.yaml:14:13 credentials[0].secret: Expected boolean, actual "yes please"',
      'connectors/acme.yaml:44:16 rateLimit.maxAttempts: Expected number, actual "lots"',
    ])
  })

  it("names the allowed values of an unknown placement kind", () => {
    expect(messages(minimalWith("  - in: header\n", "  - in: cookie\n"))).toEqual([
      'connectors/acme.yaml:27:9 auth[0].in: Expected "header" | "query" | "basic" | "signer", actual "cookie"',
    ])
  })

  it("reports a missing required field at its parent", () => {
    expect(messages(minimalWith("    label: API key\n", ""))).toEqual([
      "connectors/acme.yaml:11:5 credentials[0].label: is missing",
    ])
  })

  it("reports an unknown outcome name", () => {
    expect(messages(minimalWith("outcome: plan_not_eligible", "outcome: plan_too_small"))).toEqual([
      'connectors/acme.yaml:37:31 errors.rules[1].outcome: Expected "connected" | "invalid_credentials" | "expired_credentials" | "insufficient_permissions" | "plan_not_eligible" | "ip_not_allowed" | "address_not_allowed" | "rate_limited" | "not_found" | "unreachable" | "timeout" | "server_error" | "unexpected_response", actual "plan_too_small"',
    ])
  })

  it("merges a union's alternatives into one message", () => {
    expect(messages(minimalWith("    - path: /v1/me\n", "    - path: /v1/me\n      method: FETCH\n"))).toEqual([
      'connectors/acme.yaml:33:15 test.requests[0].method: Expected "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE", actual "FETCH"',
    ])
  })

  it("reports a file whose id does not match its name", () => {
    expect(messages(minimalWith("id: acme", "id: acme-two"))).toEqual([
      'connectors/acme.yaml:1:5 id: "acme-two" does not match the file name "acme"',
    ])
  })

  it("never throws, whatever the text", () => {
    for (const text of ["", "---", "[]", "42", "~", "id: [", "\u0000\u0001", "a: &x [*x]"]) {
      const result = loadDefinitionText(FILE, text)
      expect(result.definition).toBeUndefined()
      expect(result.problems.length).toBeGreaterThan(0)
      for (const problem of result.problems) expect(formatProblem(problem)).toMatch(/^connectors\/acme\.yaml:\d+:\d+ /)
    }
  })
})

describe("lint rules", () => {
  it("template-unknown-name: a placeholder must name a declared credential, setting or built-in", () => {
    expect(messages(minimalWith("value: ${credentials.apiKey}", "value: ${credentials.apiKee}"))).toEqual([
      "connectors/acme.yaml:29:12 auth[0].value: ${credentials.apiKee} names no declared credential",
      'connectors/acme.yaml:11:10 credentials[0].key: secret "apiKey" is placed in no request; place it in auth or give unusedReason',
    ])
    expect(messages(minimalWith('since: "${today}"', 'since: "${tomorrow}"'))).toEqual([
      "connectors/acme.yaml:33:23 test.requests[0].query.since: ${tomorrow} is not a credential, a setting or a built-in (use ${credentials.<key>}, ${settings.<key>} or ${today})",
    ])
  })

  it("template-unclosed: a ${ with no closing brace", () => {
    expect(messages(minimalWith("path: /v1/me", "path: /v1/${settings.region"))).toEqual([
      'connectors/acme.yaml:32:13 test.requests[0].path: has a "${" with no closing "}"',
    ])
  })

  it("template-misplaced: credentials never go into paths or query templates of the test", () => {
    expect(messages(minimalWith('since: "${today}"', 'since: "${credentials.apiKey}"'))).toEqual([
      "connectors/acme.yaml:33:23 test.requests[0].query.since: ${credentials.apiKey} may not be used here: secret credentials go only in auth placements (mark a value that is not secret, such as an account id, secret: false)",
    ])
  })

  it("secret-unplaced: a secret must be placed, or say why not", () => {
    const extra = "    secret: true\n  - key: spare\n    label: Spare\n    description: Spare.\n    secret: true\n"
    expect(messages(minimalWith("    secret: true\n", extra))).toEqual([
      'connectors/acme.yaml:15:10 credentials[1].key: secret "spare" is placed in no request; place it in auth or give unusedReason',
    ])
    expect(messages(minimalWith("    secret: true\n", `${extra}    unusedReason: Kept for a later sync.\n`))).toEqual(
      [],
    )
  })

  it("test-not-read-only: a test must not change data unless it says why", () => {
    expect(messages(minimalWith("    - path: /v1/me\n", "    - path: /v1/me\n      method: POST\n"))).toEqual([
      "connectors/acme.yaml:33:15 test.requests[0].method: POST may change data; a test must be GET or HEAD unless unsafeMethodReason says why",
    ])
    const reasoned = "    - path: /v1/me\n      method: POST\n      unsafeMethodReason: The vendor has no GET.\n"
    expect(messages(minimalWith("    - path: /v1/me\n", reasoned))).toEqual([])
  })

  it("status-unmapped: 401, 403 and 429 each need a rule or an explicit default", () => {
    expect(messages(minimalWith("  useDefaultsFor: [429]\n", ""))).toEqual([
      "connectors/acme.yaml:36:5 errors.rules: no rule maps 429; add one, or list 429 in errors.useDefaultsFor",
    ])
    expect(messages(minimalWith("useDefaultsFor: [429]", "useDefaultsFor: [403, 429]"))).toEqual([])
    // A class covers 401 too, though it then hides the 403 rule below it (see rule-shadowed).
    expect(messages(minimalWith("status: 401,", 'status: "4xx",'))).toEqual([
      "connectors/acme.yaml:37:7 warning errors.rules[1]: can never match: rule 1 matches every response this one would; move this rule above it",
    ])
  })

  it("base-url-not-https: credentials travel only over https", () => {
    expect(messages(minimalWith("url: https://api.acme.example", "url: http://api.acme.example"))).toEqual([
      'connectors/acme.yaml:23:8 baseUrl.url: "http://api.acme.example" is not https; credentials are only sent over https',
    ])
  })

  it("base-url-host-not-allowed: every choice of base URL must be on the allow-list", () => {
    expect(messages(minimalWith("eu: https://eu.acme.example", "eu: https://eu.evil.example"))).toEqual([
      'connectors/acme.yaml:24:45 baseUrl.bySetting.urls.eu: "eu.evil.example" is not one of this connector\'s allowed hosts (api.acme.example, eu.acme.example)',
    ])
  })

  it("query-credential-without-reason: a warning, since query strings end up in logs", () => {
    expect(messages(minimalWith("  - in: header\n    name: X-Api-Key", "  - in: query\n    name: api_key"))).toEqual([
      'connectors/acme.yaml:27:5 warning auth[0]: credential in query parameter "api_key" has no reason: query strings end up in proxy and server logs, so say why the vendor needs it there',
    ])
  })

  it("rule-shadowed: a rule that an earlier, unconditional rule always beats", () => {
    const shadowed = minimalWith(
      "  useDefaultsFor: [429]\n",
      "    - { status: 401, json: { path: code, equals: EXPIRED }, outcome: expired_credentials, message: Old., remediation: Renew. }\n  useDefaultsFor: [429]\n",
    )
    expect(messages(shadowed)).toEqual([
      "connectors/acme.yaml:38:7 warning errors.rules[2]: can never match: rule 1 matches every response this one would; move this rule above it",
    ])
  })

  it("no-test-request: allowed, with a warning that save & test can only check formats", () => {
    expect(
      messages(
        minimalWith('  requests:\n    - path: /v1/me\n      query: { since: "${today}" }\n', "  requests: []\n"),
      ),
    ).toEqual([
      "connectors/acme.yaml:31:13 warning test.requests: no test request: save & test can only check the credentials' format, and will say tested: false",
    ])
  })

  it("test-needs-more-privilege: the test should pass with the narrowest declared scope", () => {
    const scoped = minimalWith(
      "baseUrl:\n",
      "scopes:\n  - { name: read, description: Read. }\n  - { name: admin, description: All. }\nbaseUrl:\n",
    ).replace("    - path: /v1/me\n", "    - path: /v1/me\n      requiresScope: admin\n")
    expect(messages(scoped)).toEqual([
      "connectors/acme.yaml:36:22 warning test.requests[0].requiresScope: the test needs admin, but the narrowest key is read: a least-privilege key would fail save & test",
    ])
  })

  it("missing-docs: a definition without links to the vendor's docs", () => {
    expect(
      messages(
        minimalWith("docs:\n  api: https://docs.acme.example/api\n  credentials: https://docs.acme.example/keys\n", ""),
      ),
    ).toEqual([
      "connectors/acme.yaml:1:5 warning id: no docs.api link: the generated customer page points to the vendor's API reference",
      "connectors/acme.yaml:1:5 warning id: no docs.credentials link: the generated customer page points to the vendor's key-creation guide",
    ])
  })

  it("retry-on-auth-failure: 401, 403 and 404 are never retried", () => {
    expect(messages(minimalWith("retryOn: [429, 503]", "retryOn: [429, 401]"))).toEqual([
      "connectors/acme.yaml:40:18 rateLimit.retryOn[1]: 401 must never be retried",
    ])
  })

  it("setting-unused is a warning, and a warning alone does not fail the file", () => {
    const text = minimalWith(
      "baseUrl:\n",
      "  - key: tenant\n    label: Tenant\n    description: Unused.\n    type: string\nbaseUrl:\n",
    )
    const result = loadDefinitionText(FILE, text)
    expect(result.problems.map(formatProblem)).toEqual([
      'connectors/acme.yaml:22:10 warning settings[1].key: setting "tenant" is used by no template',
    ])
    expect(result.definition).toBeDefined()
  })

  it("setting-default-invalid: an enum default must be one of its options", () => {
    expect(messages(minimalWith("    default: us\n", "    default: mars\n"))).toEqual([
      'connectors/acme.yaml:20:14 settings[0].default: "mars" is not one of the options',
    ])
  })
})
