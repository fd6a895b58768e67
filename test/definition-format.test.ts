/**
 * The definition format covers the field (issue "any API-key or Basic-auth vendor in one YAML file"):
 * one test per gap found by translating real vendors, and per bug found on the way. Requests go to a
 * loopback server that records exactly what arrived.
 */
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import * as Either from "effect/Either"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { resolveBaseUrl } from "../core/base-url.ts"
import type { ConnectorDefinition } from "../core/definition.ts"
import { checkCredentials, checkSettings } from "../core/fields.ts"
import { formatProblem, loadDefinitionText } from "../core/load.ts"
import { readRateLimitHeaders } from "../core/rate-limit-headers.ts"
import { sampleCredential, sampleSettings } from "../core/samples.ts"
import { awsSigV4 } from "../core/signers/aws-sigv4.ts"
import { renderTemplate } from "../core/template.ts"
import { connectorPage } from "../runner/authoring/docs.ts"
import { createKeyway } from "../runner/library/index.ts"
import { derivedFakeInput } from "../runner/sandbox/scenarios.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { MINIMAL, minimalWith } from "./minimal-definition.ts"

const FILE = "connectors/acme.yaml"
const messages = (text: string): string[] => loadDefinitionText(FILE, text).problems.map(formatProblem)
const load = (text: string, file = FILE): ConnectorDefinition => {
  const result = loadDefinitionText(file, text)
  expect(result.problems.map(formatProblem)).toEqual([])
  return result.definition as ConnectorDefinition
}

interface Received {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

/** A loopback server that records each request and answers from a list (then 200 `{}`). */
const recorder = async (answers: Array<{ status: number; headers?: Record<string, string>; body?: string }> = []) => {
  const received: Received[] = []
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString()
    })
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body })
      const answer = answers.shift() ?? { status: 200 }
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers })
      res.end(answer.body ?? "{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, received, close: () => new Promise((resolve) => server.close(resolve)) }
}

/** Runs save & test of `definition` against a recorder; answers what was received. */
const checkAgainstRecorder = async (
  definition: ConnectorDefinition,
  input: { credentials: Record<string, string>; settings?: Record<string, string> },
  answers: Parameters<typeof recorder>[0] = [],
) => {
  const server = await recorder(answers)
  const keyway = createKeyway({ definitions: [definition], sandboxUrl: server.url })
  try {
    const result = await keyway.test({ connectorId: definition.id, ...input })
    return { result, received: server.received }
  } finally {
    await keyway.close()
    await server.close()
  }
}

describe("1. a test request sets headers (Content-Type, Accept, an API version)", () => {
  it("the definition's and the request's headers are sent; a secret may not go in one", async () => {
    const definition = load(
      minimalWith(
        "    - path: /v1/me\n",
        '    - path: /v1/me\n      headers: { X-Api-Version: "2024-01-01", Accept: "application/vnd.acme+json" }\n',
      ).replace("auth:\n", "headers:\n  X-Client: keyway-${settings.region}\nauth:\n"),
    )
    const { received } = await checkAgainstRecorder(definition, { credentials: { apiKey: "k-123456" } })
    expect(received[0]?.headers).toMatchObject({
      "x-api-version": "2024-01-01",
      accept: "application/vnd.acme+json",
      "x-client": "keyway-us",
      "x-api-key": "k-123456",
    })
    expect(
      messages(
        minimalWith("    - path: /v1/me\n", '    - path: /v1/me\n      headers: { X-Key: "${credentials.apiKey}" }\n'),
      ),
    ).toEqual([
      "connectors/acme.yaml:33:25 test.requests[0].headers.X-Key: ${credentials.apiKey} may not be used here: secret credentials go only in auth placements (mark a value that is not secret, such as an account id, secret: false)",
    ])
  })
})

describe("2. test credentials from the definition itself", () => {
  const withFormat = (format: string, extra = "") =>
    minimalWith("    secret: true\n", `    secret: true\n    format: { ${format} }\n${extra}`)

  it("a credential's examples come first; without them a value is generated from its pattern", () => {
    const fromExamples = load(
      withFormat('pattern: "AC[0-9a-f]{32}"', "    examples: [AC0123456789abcdef0123456789abcdef]\n"),
    )
    expect(derivedFakeInput(fromExamples).credentials.apiKey).toBe("AC0123456789abcdef0123456789abcdef")
    const generated = load(withFormat('pattern: "FPSX[0-9a-f]{32}-us[0-9]{1,2}"'))
    const value = derivedFakeInput(generated).credentials.apiKey as string
    expect(value).toMatch(/^FPSX[0-9a-f]{32}-us[0-9]{1,2}$/)
    // The same value every time, in every process: the sandbox and a user's connect agree on it.
    expect(derivedFakeInput(generated).credentials.apiKey).toBe(value)
    const wrong = sampleCredential(generated, generated.credentials[0], 1)
    expect(wrong).toMatch(/^FPSX[0-9a-f]{32}-us[0-9]{1,2}$/)
    expect(wrong).not.toBe(value)
  })

  it("an example that does not match the format is an error", () => {
    expect(messages(withFormat('pattern: "AC[0-9a-f]{32}"', "    examples: [nope]\n"))).toEqual([
      "connectors/acme.yaml:16:16 credentials[0].examples[0]: does not pass the credential's checks: does not have the expected format (AC[0-9a-f]{32})",
    ])
  })
})

describe("3 and 4. a required setting with no default: the base URL, the derived fake, the sandbox", () => {
  const SUBDOMAIN = minimalWith(
    "settings:\n",
    'settings:\n  - key: subdomain\n    label: Subdomain\n    description: Your account\'s subdomain.\n    type: string\n    pattern: "[a-z0-9][a-z0-9-]{1,30}"\n    required: true\n',
  )
    .replace("  url: https://api.acme.example\n", "  url: https://${settings.subdomain}.acme.example\n")
    .replace("  allowedHosts: [api.acme.example, eu.acme.example]", '  allowedHosts: ["*.acme.example"]')
    .replace(
      "    value: ${credentials.apiKey}\n",
      "    value: ${credentials.apiKey}\n  - in: header\n    name: X-Tenant\n    value: ${settings.subdomain}\n",
    )
  let sandbox: Sandbox
  let definition: ConnectorDefinition
  beforeAll(async () => {
    definition = load(SUBDOMAIN)
    sandbox = await startSandbox({ handwritten: false, generic: [definition] })
  })
  afterAll(() => sandbox.stop())

  it("validates, with the base URL checked for a sample subdomain; a customer's resolves, a trick does not", () => {
    expect(Either.getOrThrow(resolveBaseUrl(definition, { subdomain: "globex" })).host).toBe("globex.acme.example")
    expect(Either.isLeft(resolveBaseUrl(definition, { subdomain: "evil.com#" }))).toBe(true)
    expect(Either.isLeft(resolveBaseUrl(definition, {}))).toBe(true)
  })

  it("the derived fake takes the sample setting, and connects with it; without it, the input is refused", async () => {
    const input = derivedFakeInput(definition)
    expect(input.settings.subdomain).toMatch(/^[a-z0-9][a-z0-9-]{1,30}$/)
    expect(sampleSettings(definition)).toEqual(input.settings)
    const keyway = createKeyway({ definitions: [definition], sandboxUrl: sandbox.url })
    try {
      expect((await keyway.test({ connectorId: "acme", ...input })).verdict.outcome).toBe("connected")
      const missing = await keyway.test({ connectorId: "acme", credentials: input.credentials }).catch((e) => e)
      // Said once, as missing: not again as a base URL that cannot be built.
      expect(missing.problems).toEqual([{ field: "settings.subdomain", message: "is required" }])
    } finally {
      await keyway.close()
    }
  })
})

describe("5. a setting that is a bare host name", () => {
  const HOST = minimalWith(
    "settings:\n",
    "settings:\n  - key: site\n    label: Site\n    description: Your site's host name.\n    type: host\n    required: true\n    examples: [acme.atlassian.net]\n",
  ).replace("  url: https://api.acme.example\n", "  url: https://${settings.site}\n  selfHostedSetting: site\n")

  it("validates as a self-hosted server; a host name passes, a URL or an internal address does not", () => {
    const definition = load(HOST)
    expect(Either.getOrThrow(resolveBaseUrl(definition, { site: "globex.atlassian.net" })).href).toBe(
      "https://globex.atlassian.net/",
    )
    expect(checkSettings(definition, { site: "https://globex.atlassian.net" })).toEqual([
      { field: "settings.site", message: "must be a host name such as acme.example.com, with no https:// and no path" },
    ])
    expect(checkSettings(definition, { site: "globex.atlassian.net/x" })).toHaveLength(1)
    const internal = resolveBaseUrl(definition, { site: "intranet.localhost" })
    expect(Either.isLeft(internal) && internal.left.problem).toBe("internal_address")
  })
})

describe("6. a read-only POST with a JSON body as the test", () => {
  it("sends the body as JSON, its templates filled", async () => {
    const definition = load(
      minimalWith(
        '    - path: /v1/me\n      query: { since: "${today}" }\n',
        '    - path: /graphql\n      method: POST\n      unsafeMethodReason: A GraphQL query only reads.\n      body: { query: "{ viewer { id } }", variables: { region: "${settings.region}" } }\n',
      ),
    )
    const { received, result } = await checkAgainstRecorder(definition, { credentials: { apiKey: "k-123456" } })
    expect(result.verdict.outcome).toBe("connected")
    expect(received[0]).toMatchObject({ method: "POST", url: "/acme/graphql" })
    expect(received[0]?.headers["content-type"]).toBe("application/json")
    expect(JSON.parse(received[0]?.body ?? "")).toEqual({ query: "{ viewer { id } }", variables: { region: "us" } })
  })
})

describe("7. a wait header under another name, in its unit", () => {
  it("each unit is read as declared", () => {
    const now = Date.UTC(2026, 11, 3, 12, 0, 0)
    const read = (
      unit: "seconds" | "milliseconds" | "epochSeconds" | "epochMilliseconds" | "httpDate",
      value: string,
    ) =>
      readRateLimitHeaders((name) => (name === "x-rate-limit-reset" ? value : undefined), now, [
        { name: "x-rate-limit-reset", unit },
      ]).wait
    expect(read("seconds", "7")).toEqual({ delayMs: 7000, source: "vendor-header" })
    expect(read("milliseconds", "750")).toEqual({ delayMs: 750, source: "vendor-header" })
    expect(read("epochSeconds", String(now / 1000 + 30))).toEqual({ delayMs: 30_000, source: "vendor-header" })
    expect(read("epochMilliseconds", String(now + 1500))).toEqual({ delayMs: 1500, source: "vendor-header" })
    expect(read("httpDate", "Thu, 03 Dec 2026 12:00:09 GMT")).toEqual({ delayMs: 9000, source: "vendor-header" })
    // Undeclared, the header is not read.
    expect(readRateLimitHeaders((name) => (name === "x-rate-limit-reset" ? "7" : undefined), now).wait).toBeUndefined()
  })

  it("a save & test waits as the vendor's own header says, then succeeds", async () => {
    const definition = load(
      minimalWith(
        "  waitHeaders: [retry-after]\n",
        "  waitHeaders: [retry-after, { name: x-wait-ms, unit: milliseconds }]\n",
      ),
    )
    const { result } = await checkAgainstRecorder(definition, { credentials: { apiKey: "k-123456" } }, [
      { status: 429, headers: { "x-wait-ms": "300" } },
    ])
    expect(result.verdict.outcome).toBe("connected")
    expect(result.attempts[0]).toMatchObject({ status: 429, waitSetBy: "vendor-header" })
    expect(result.attempts[0]?.waitMs).toBeGreaterThanOrEqual(300)
  })
})

describe("8. a credential that is not secret, in the path", () => {
  const ACCOUNT = minimalWith(
    "credentials:\n",
    "credentials:\n  - key: accountSid\n    label: Account SID\n    description: On the console's dashboard.\n    secret: false\n",
  ).replace("    - path: /v1/me\n", "    - path: /Accounts/${credentials.accountSid}.json\n")

  it("goes into the path; a secret still may not", async () => {
    const definition = load(ACCOUNT)
    const { received } = await checkAgainstRecorder(definition, {
      credentials: { accountSid: "AC0123", apiKey: "k-123456" },
    })
    expect(received[0]?.url).toMatch(/^\/acme\/Accounts\/AC0123\.json\?/)
    expect(
      messages(ACCOUNT.replace("    secret: false\n", "    secret: true\n    unusedReason: Not used.\n")),
    ).toContain(
      "connectors/acme.yaml:37:13 test.requests[0].path: ${credentials.accountSid} may not be used here: secret credentials go only in auth placements (mark a value that is not secret, such as an account id, secret: false)",
    )
  })
})

describe("9 and 10. template functions and defaults", () => {
  const context = {
    credentials: { email: "jo@example.com", apiKey: "s3cret" },
    settings: { region: undefined, blank: "" },
    now: new Date(Date.UTC(2026, 11, 3, 8, 5, 9)),
  }
  it("base64 of values joined, and a built-in date in a date-fns format, in UTC", () => {
    expect(renderTemplate("Basic ${base64(credentials.email, ':', credentials.apiKey)}", context)).toBe(
      `Basic ${Buffer.from("jo@example.com:s3cret").toString("base64")}`,
    )
    expect(renderTemplate("${date(today, 'yyyyMMdd')}/${date(nowIso, 'HH:mm:ss')}", context)).toBe("20261203/08:05:09")
  })

  it("a default when a value is not given, or is blank", () => {
    expect(renderTemplate("https://${settings.region || 'us'}.acme.example", context)).toBe("https://us.acme.example")
    expect(renderTemplate("${settings.blank || settings.region || 'eu'}", context)).toBe("eu")
    expect(renderTemplate("${settings.region || 'us'}", { ...context, settings: { region: "au" } })).toBe("au")
  })

  it("validate names what is wrong in an expression", () => {
    const withPath = (path: string) => minimalWith("    - path: /v1/me\n", `    - path: "${path}"\n`)
    expect(messages(withPath("/v1/${upper(settings.region)}"))).toEqual([
      "connectors/acme.yaml:32:13 test.requests[0].path: ${upper(settings.region)}: upper() is not a function (functions: base64, date)",
    ])
    expect(messages(withPath("/v1/${date(today, 'YYYY')}"))[0]).toMatch(/'YYYY' is not a date format/)
    expect(messages(withPath("/v1/${settings.region || }"))[0]).toMatch(/an expression ends too early/)
  })
})

describe("11. connector ids that start with a digit; setting keys that are not identifiers", () => {
  it("loads 15five with an api-version setting used in a header", () => {
    const text = MINIMAL.replace("id: acme", "id: 15five")
      .replace(
        "settings:\n",
        'settings:\n  - key: api-version\n    label: API version\n    description: The version to ask for.\n    type: string\n    default: "3"\n',
      )
      .replace("auth:\n", "headers:\n  X-Api-Version: ${settings.api-version}\nauth:\n")
    expect(load(text, "connectors/15five.yaml").id).toBe("15five")
  })
})

describe("bugs found on the way", () => {
  it("a format pattern must match the whole value, not a part of it", () => {
    const definition = load(
      minimalWith("    secret: true\n", '    secret: true\n    format: { pattern: "FPSX[0-9a-f]{8}" }\n'),
    )
    expect(checkCredentials(definition, { apiKey: "FPSX0123abcd" })).toEqual([])
    expect(checkCredentials(definition, { apiKey: "junk FPSX0123abcd junk" })).toEqual([
      { field: "credentials.apiKey", message: "does not have the expected format (FPSX[0-9a-f]{8})" },
    ])
  })

  it("a docs page with no error rules says so instead of printing an empty table", () => {
    const definition = load(
      minimalWith(
        "  rules:\n    - { status: 401, outcome: invalid_credentials, message: Bad key., remediation: Make a new key. }\n    - { status: 403, outcome: plan_not_eligible, message: Plan., remediation: Upgrade. }\n  useDefaultsFor: [429]\n",
        "  rules: []\n  useDefaultsFor: [401, 403, 429]\n",
      ),
    )
    const page = connectorPage(definition, "connectors/acme.yaml")
    const section = page.slice(page.indexOf("## Troubleshooting"), page.indexOf("## Security notes"))
    expect(section).not.toContain("| Status |")
    expect(section).toContain("Acme has no error rules of its own.")
    expect(section).toContain("Every status follows Keyway's default table")
  })
})

describe("request signing: a named signer in TypeScript", () => {
  it("aws-sigv4 reproduces AWS's own test vector (get-vanilla)", () => {
    const headers = awsSigV4.sign(
      { method: "GET", url: new URL("https://example.amazonaws.com/"), headers: {} },
      {
        accessKeyId: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "service",
      },
      new Date(Date.UTC(2015, 7, 30, 12, 36, 0)),
    )
    expect(headers).toEqual({
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
      "x-amz-date": "20150830T123600Z",
    })
  })

  const SIGNED = minimalWith(
    "credentials:\n",
    "credentials:\n  - key: accessKeyId\n    label: Access key ID\n    description: IAM > Security credentials.\n    secret: false\n",
  ).replace(
    "  - in: header\n    name: X-Api-Key\n    value: ${credentials.apiKey}\n",
    "  - in: signer\n    signer: aws-sigv4\n    with:\n      accessKeyId: ${credentials.accessKeyId}\n      secretAccessKey: ${credentials.apiKey}\n      region: us-east-1\n      service: sts\n",
  )

  it("a definition names it; each request is signed last, over what is sent", async () => {
    const definition = load(SIGNED)
    const { received } = await checkAgainstRecorder(definition, {
      credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", apiKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
    })
    const request = received[0] as Received
    const resigned = awsSigV4.sign(
      { method: "GET", url: new URL(request.url, `http://${request.headers.host}`), headers: {} },
      {
        accessKeyId: "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "sts",
      },
      awsSigV4.signedAt({ "x-amz-date": String(request.headers["x-amz-date"]) }) as Date,
    )
    expect(request.headers.authorization).toBe(resigned.authorization)
    expect(request.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/sts\/aws4_request/,
    )
  })

  it("validate names an unknown signer, a missing parameter, and a secret not taken from a secret credential", () => {
    expect(messages(SIGNED.replace("signer: aws-sigv4", "signer: aws-sigv5"))[0]).toMatch(
      /no signer "aws-sigv5" \(signers: aws-sigv4\)/,
    )
    expect(messages(SIGNED.replace("      region: us-east-1\n", ""))).toContain(
      'connectors/acme.yaml:34:7 auth[0].with: aws-sigv4 needs "region"',
    )
    expect(
      messages(SIGNED.replace("secretAccessKey: ${credentials.apiKey}", "secretAccessKey: hunter2")).join("\n"),
    ).toMatch(/"secretAccessKey" is a secret: take it from a secret credential/)
  })
})

describe("keyway new asks about each feature, so a scaffold needs only the vendor's facts", () => {
  const SHAPES: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    [
      "graphql",
      [
        "--auth",
        "header",
        "--param-name",
        "Authorization",
        "--test-path",
        "/graphql",
        "--test-body",
        '{"query":"{ viewer { id } }"}',
      ],
    ],
    [
      "subdomain",
      ["--base-url", "https://{subdomain}.vendor.example", "--auth", "basic", "--test-path", "/api/v2/users/me.json"],
    ],
    ["site", ["--base-url", "https://{site}", "--auth", "basic", "--test-path", "/rest/api/3/myself"]],
    ["querykey", ["--auth", "query", "--param-name", "api_token", "--test-path", "/v1/users/me"]],
    ["account", ["--auth", "basic", "--test-path", "/2010-04-01/Accounts/{accountSid}.json"]],
    ["waits", ["--test-path", "/api/v1/users/me", "--wait-header", "x-rate-limit-reset:epochSeconds"]],
    [
      "regions",
      [
        "--test-path",
        "/api/v1/validate",
        "--region",
        "us=https://api.vendor.example",
        "--region",
        "eu=https://api.vendor.eu",
      ],
    ],
    [
      "versioned",
      [
        "--test-path",
        "/user",
        "--header",
        "Accept: application/vnd.vendor+json",
        "--header",
        "X-Api-Version: 2022-11-28",
      ],
    ],
    ["signed", ["--auth", "aws-sigv4", "--test-path", "/"]],
    ["patterned", ["--test-path", "/v1/me", "--key-pattern", "lin_api_[A-Za-z0-9]{40}"]],
  ]

  it("each shape validates with no errors and connects to its derived fake in the sandbox", async () => {
    const { mkdtempSync } = await import("node:fs")
    const { tmpdir } = await import("node:os")
    const { join } = await import("node:path")
    const { cli } = await import("./support/cli.ts")
    const { loadConnectorFileNow } = await import("../runner/catalog/load-now.ts")
    const dir = mkdtempSync(join(tmpdir(), "keyway-shapes-"))
    const definitions: ConnectorDefinition[] = []
    for (const [id, flags] of SHAPES) {
      const args = ["new", id, "--name", id, "--dir", dir, "--docs-url", "https://docs.vendor.example"]
      if (!flags.includes("--base-url")) args.push("--base-url", "https://api.vendor.example")
      const made = await cli([...args, ...flags])
      expect(made.stderr).toBe("")
      const loaded = loadConnectorFileNow(join(dir, `${id}.yaml`))
      expect(loaded.problems.map(formatProblem)).toEqual([])
      definitions.push(loaded.definition as ConnectorDefinition)
    }
    const sandbox = await startSandbox({ handwritten: false, generic: definitions })
    const keyway = createKeyway({ definitions, sandboxUrl: sandbox.url })
    try {
      for (const definition of definitions) {
        const result = await keyway.test({ connectorId: definition.id, ...derivedFakeInput(definition) })
        expect([definition.id, result.verdict.outcome]).toEqual([definition.id, "connected"])
      }
    } finally {
      await keyway.close()
      await sandbox.stop()
    }
  })
})
