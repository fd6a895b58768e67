/**
 * The connector definition format: one effect Schema that is the single source of truth for the
 * TypeScript types, the loader's validation and `connectors/schema.json` (for editors).
 *
 * The schema describes the file as written. Defaults are filled by `normalise` in `load.ts`, not by
 * schema transformations, so that the generated JSON Schema describes exactly what an engineer types.
 */
import * as Schema from "effect/Schema"
import { RULE_OUTCOMES } from "./outcomes.ts"

const NonEmpty = Schema.String.pipe(Schema.minLength(1))

/** A string that may hold `${...}` placeholders, resolved by `core/template.ts`. */
const Template = Schema.String.annotations({
  title: "Template",
  description:
    "A string that may use ${credentials.<key>}, ${settings.<key>}, the built-ins ${today}, ${yesterday}, ${daysAgo7}, ${daysAgo30}, ${nowIso} and ${nowEpochMs}, a default (${settings.region || 'us'}), ${base64(credentials.email, ':', credentials.apiKey)} and ${date(today, 'yyyyMMdd')} (a date-fns format, UTC).",
  examples: ["Bearer ${credentials.apiToken}", "Basic ${base64(credentials.email, '/token:', credentials.apiToken)}"],
})

const HttpsUrl = Schema.String.pipe(Schema.pattern(/^https:\/\/\S+$/, { message: () => "must be an https:// URL" }))

const Identifier = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-zA-Z0-9_]*$/, {
    message: () => "must start with a lower-case letter and hold only letters, digits and _",
  }),
)

/** A credential's or setting's key: vendors' own names, such as `api-version` or `AccountSid`, are kept as they are. */
const FieldKey = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_][A-Za-z0-9_-]*$/, {
    message: () => "must hold only letters, digits, _ and -, and not start with -",
  }),
)

/** Header names and values: the name is a token (RFC 9110 §5.1), the value a template. */
const HeaderName = Schema.String.pipe(
  Schema.pattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: () => "must be an HTTP header name" }),
)
const Headers = Schema.Record({ key: HeaderName, value: Schema.String }).annotations({
  title: "Headers",
  description:
    "Headers to send, such as a versioned Accept or an API version. Values are templates; a secret credential may not be used here (secrets go only in auth).",
  examples: [{ Accept: "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28" }],
})

const Examples = Schema.Array(NonEmpty).annotations({
  description:
    "Made-up values that pass the format, used by the sandbox and the conformance kit; without them Keyway generates one from the pattern.",
})

// ---------------------------------------------------------------------------------------------
// Credentials and settings

export const CredentialFormat = Schema.Struct({
  pattern: Schema.optional(
    Schema.String.annotations({
      description: "A regular expression (RE2 syntax) the whole value must match: it is anchored at both ends.",
    }),
  ),
  minLength: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  maxLength: Schema.optional(Schema.Int.pipe(Schema.positive())),
  noWhitespace: Schema.optional(
    Schema.Boolean.annotations({ description: "Reject values holding spaces, tabs or line breaks." }),
  ),
}).annotations({ title: "CredentialFormat", description: "Checks run on the value before any request." })

export const ExpiryHint = Schema.Struct({
  afterDays: Schema.optional(
    Schema.Int.pipe(Schema.positive()).annotations({
      description: "The vendor's default lifetime, counted from creation.",
    }),
  ),
  dateEntered: Schema.optional(
    Schema.Boolean.annotations({
      description: "The customer chooses an expiry date when creating it, and may tell Keyway.",
    }),
  ),
  note: NonEmpty,
}).annotations({ title: "ExpiryHint", description: "What the vendor says about this credential's expiry." })

const FormMetadata = {
  order: Schema.optional(
    Schema.Int.annotations({
      description: "The field's place in the connect form, lowest first; unset fields follow.",
    }),
  ),
  group: Schema.optional(
    NonEmpty.annotations({ description: "A titled group of fields in the connect form, such as Advanced." }),
  ),
  hint: Schema.optional(
    NonEmpty.annotations({
      description: 'What the format looks like, in words, shown instead of the raw pattern: "starts with lin_api_".',
    }),
  ),
}

export const Credential = Schema.Struct({
  key: FieldKey.annotations({ description: "The name templates use: ${credentials.<key>}." }),
  label: NonEmpty,
  description: NonEmpty.annotations({ description: "Where the customer finds this value." }),
  secret: Schema.Boolean.annotations({
    description:
      "A secret goes only in auth placements and is never shown. A value that is not secret (an account id, a user name) may also be used in paths, queries, headers and bodies.",
  }),
  required: Schema.optional(Schema.Boolean.annotations({ description: "Defaults to true." })),
  format: Schema.optional(CredentialFormat),
  examples: Schema.optional(Examples),
  ...FormMetadata,
  expires: Schema.optional(ExpiryHint),
  unusedReason: Schema.optional(
    NonEmpty.annotations({ description: "Why a secret is collected but placed in no request." }),
  ),
}).annotations({ title: "Credential" })
export type Credential = typeof Credential.Type

export const SettingOption = Schema.Struct({
  value: NonEmpty,
  label: NonEmpty,
})

export const Setting = Schema.Struct({
  key: FieldKey.annotations({ description: "The name templates use: ${settings.<key>}." }),
  label: NonEmpty,
  description: NonEmpty,
  type: Schema.Literal("enum", "string", "url", "host").annotations({
    description:
      "enum: one of `options`; string: free text (give a pattern); url: an https:// URL; host: a bare host name such as acme.atlassian.net, no scheme or path.",
  }),
  options: Schema.optional(Schema.Array(SettingOption)),
  pattern: Schema.optional(
    Schema.String.annotations({ description: "A regular expression (RE2) the whole value must match." }),
  ),
  default: Schema.optional(Schema.String),
  required: Schema.optional(Schema.Boolean),
  examples: Schema.optional(Examples),
  ...FormMetadata,
}).annotations({
  title: "Setting",
  description: "A non-secret connection setting, such as a data region, a server URL or a subdomain.",
})
export type Setting = typeof Setting.Type

// ---------------------------------------------------------------------------------------------
// Base URL

export const BaseUrl = Schema.Struct({
  url: Template.annotations({
    description: "The base URL: https, no trailing slash. May use ${settings.<key>}.",
    examples: ["https://api.example.com", "https://${settings.subdomain}.example.com"],
  }),
  bySetting: Schema.optional(
    Schema.Struct({
      setting: Identifier,
      urls: Schema.Record({ key: Schema.String, value: HttpsUrl }),
    }).annotations({
      description: "An enum setting whose values pick a base URL; values not listed use `url`.",
    }),
  ),
  allowedHosts: Schema.NonEmptyArray(NonEmpty).annotations({
    description:
      "Host names credentials may be sent to. `*` matches one DNS label, e.g. `*.trackvia.com`. A customer setting can never point credentials elsewhere.",
    examples: [["api.activtrak.com", "api-*.activtrak.com"]],
  }),
  selfHostedSetting: Schema.optional(
    Identifier.annotations({
      description:
        "A `url` or `host` setting naming the customer's own server. Any public https host is allowed through it; loopback and private addresses are not.",
    }),
  ),
}).annotations({ title: "BaseUrl" })

// ---------------------------------------------------------------------------------------------
// Auth placement

const QueryReason = NonEmpty.annotations({
  description: "Query strings end up in proxy and server logs, so a credential in the query needs the vendor's reason.",
})

export const HeaderPlacement = Schema.Struct({
  in: Schema.Literal("header"),
  name: NonEmpty,
  value: Template,
}).annotations({ title: "HeaderPlacement" })

export const QueryPlacement = Schema.Struct({
  in: Schema.Literal("query"),
  name: NonEmpty,
  value: Template,
  reason: Schema.optional(QueryReason),
}).annotations({ title: "QueryPlacement" })

export const BasicPlacement = Schema.Struct({
  in: Schema.Literal("basic"),
  username: Template,
  password: Template,
}).annotations({ title: "BasicPlacement", description: "HTTP Basic auth (Authorization header)." })

export const SignerPlacement = Schema.Struct({
  in: Schema.Literal("signer"),
  signer: NonEmpty.annotations({
    description: "A signer written in TypeScript (core/signers.ts), for vendors whose requests must be signed.",
    examples: ["aws-sigv4"],
  }),
  with: Schema.Record({ key: Schema.String, value: Template }).annotations({
    description: "The signer's parameters; values are templates, so secrets reach the signer only from here.",
  }),
}).annotations({
  title: "SignerPlacement",
  description:
    "Signs each whole request (method, URL, headers, body) with a named signer, last, after every other placement.",
})

export const Placement = Schema.Union(HeaderPlacement, QueryPlacement, BasicPlacement, SignerPlacement).annotations({
  title: "Placement",
  description: "Where a credential goes in a request.",
})
export type Placement = typeof Placement.Type

// ---------------------------------------------------------------------------------------------
// Matching responses: shared by test expectations, probe warnings and error rules

export const JsonMatch = Schema.Struct({
  path: Schema.String.annotations({
    description: "A dot path into the JSON body; `[*]` means any element of an array, `$` the body itself.",
    examples: ["activity", "error_description", "[*].scope", "$"],
  }),
  type: Schema.optional(Schema.Literal("array", "object", "string", "number", "boolean")),
  equals: Schema.optional(Schema.Union(Schema.String, Schema.Number, Schema.Boolean)),
  contains: Schema.optional(Schema.String.annotations({ description: "Case-insensitive substring of the value." })),
}).annotations({ title: "JsonMatch" })
export type JsonMatch = typeof JsonMatch.Type

export const HeaderMatch = Schema.Struct({
  name: NonEmpty,
  contains: Schema.optional(Schema.String),
  present: Schema.optional(Schema.Boolean),
}).annotations({ title: "HeaderMatch" })

export const StatusMatch = Schema.Union(
  Schema.Int.pipe(Schema.between(100, 599)),
  Schema.Array(Schema.Int.pipe(Schema.between(100, 599))),
  Schema.String.pipe(Schema.pattern(/^[1-5]xx$/, { message: () => 'must be a status class such as "5xx"' })),
).annotations({
  title: "StatusMatch",
  description: 'A status, a list of statuses, or a class such as "5xx".',
})
export type StatusMatch = typeof StatusMatch.Type

// ---------------------------------------------------------------------------------------------
// Test requests and probes

export const Method = Schema.Literal("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

export const Request = Schema.Struct({
  method: Schema.optional(Method.annotations({ description: "Defaults to GET." })),
  path: Template.annotations({ description: "Path under the base URL, starting with /." }),
  query: Schema.optional(Schema.Record({ key: Schema.String, value: Template })),
  headers: Schema.optional(
    Headers.annotations({ description: "Sent with this request, over the definition's `headers`." }),
  ),
  body: Schema.optional(
    Schema.Unknown.annotations({
      description:
        "A JSON body, such as a GraphQL query or a search; string values are templates. Sent with Content-Type: application/json.",
      examples: [{ query: "{ viewer { id } }" }],
    }),
  ),
  unsafeMethodReason: Schema.optional(
    NonEmpty.annotations({
      description: "Why a test must use a method other than GET or HEAD, and why it only reads (a GraphQL query).",
    }),
  ),
})

export const Expectation = Schema.Struct({
  status: Schema.optional(StatusMatch.annotations({ description: "Defaults to 200." })),
  json: Schema.optional(Schema.Array(JsonMatch)),
})
export type Expectation = typeof Expectation.Type

export const TestRequest = Schema.Struct({
  ...Request.fields,
  description: Schema.optional(NonEmpty),
  expect: Schema.optional(Expectation),
  requiresScope: Schema.optional(
    NonEmpty.annotations({ description: "The key scope this request needs, one of the definition's `scopes`." }),
  ),
}).annotations({
  title: "TestRequest",
  description: "A cheap read-only request that proves both the key and the base URL. All must pass, in order.",
})
export type TestRequest = typeof TestRequest.Type

export const Probe = Schema.Struct({
  id: Identifier,
  description: NonEmpty,
  ...Request.fields,
  whenCredentials: Schema.optional(
    Schema.Array(Identifier).annotations({
      description: "Run only when these (optional) credentials were given.",
    }),
  ),
  auth: Schema.optional(
    Schema.Array(Placement).annotations({ description: "Replaces the connector's auth for this probe." }),
  ),
  expect: Schema.optional(Expectation),
  warning: NonEmpty.annotations({ description: "Shown when the probe's expectation fails." }),
  warnWhen: Schema.optional(
    Schema.Array(
      Schema.Struct({
        json: Schema.Union(JsonMatch, Schema.NonEmptyArray(JsonMatch)).annotations({
          description: "A match, or a list of matches that must all hold.",
        }),
        unless: Schema.optional(
          JsonMatch.annotations({
            description:
              "No warning when this matches too: with `json`, says that no element is something, such as no token READ_ONLY.",
          }),
        ),
        warning: NonEmpty,
      }).annotations({
        description: "Extra warnings raised by a passing response's body: every rule that holds adds its warning.",
      }),
    ),
  ),
}).annotations({
  title: "Probe",
  description: "Runs after a passing test; a failure is a warning, never a failed test.",
})

// ---------------------------------------------------------------------------------------------
// Error mappings

export const OutcomeName = Schema.Literal(...RULE_OUTCOMES)

export const ErrorRule = Schema.Struct({
  status: StatusMatch,
  json: Schema.optional(JsonMatch),
  bodyContains: Schema.optional(
    Schema.String.annotations({ description: "Case-insensitive text anywhere in the body." }),
  ),
  header: Schema.optional(HeaderMatch),
  outcome: OutcomeName,
  scope: Schema.optional(
    Schema.Literal("credential", "request").annotations({
      description:
        "What the rule judges. `credential`: the key itself, so a sync that meets it marks the connection as failing. " +
        "`request`: only this one request (an unknown view, form or parameter), so a sync reports a parameter problem " +
        "(exit 2) and leaves the connection alone. Unset: outcomes about the key (rejected, expired, permissions, plan, IP) " +
        "judge the credential, once a sync has re-run the test request to be sure; other outcomes judge neither.",
    }),
  ),
  message: NonEmpty,
  remediation: NonEmpty,
}).annotations({
  title: "ErrorRule",
  description: "Tried in order; the first rule whose every match holds decides the outcome.",
})
export type ErrorRule = typeof ErrorRule.Type

/** The verdict codes a response can give: an outcome's own name, or what Keyway saw of a 2xx or 3xx. */
const ResponseCode = Schema.Literal(...RULE_OUTCOMES, "expectation_failed", "redirect_not_followed")

export const ErrorExample = Schema.Struct({
  status: Schema.Int.pipe(Schema.between(100, 599)).annotations({ description: "The response's HTTP status." }),
  headers: Schema.optional(
    Schema.Record({ key: HeaderName, value: Schema.String }).annotations({
      description: "Response headers, as the vendor sends them, such as Retry-After or Content-Type.",
      examples: [{ "Retry-After": "30" }],
    }),
  ),
  body: Schema.String.annotations({
    description: "The response body exactly as quoted, usually JSON text; an empty string for no body.",
    examples: ['{"code":"AUTHENTICATION_REQUIRED","message":"Authentication required"}'],
  }),
  outcome: OutcomeName.annotations({ description: "The outcome Keyway must give this response." }),
  code: Schema.optional(
    ResponseCode.annotations({
      description:
        "The verdict's stable machine code, when it should be checked too: the outcome's own name for a vendor's error, expectation_failed or redirect_not_followed for a 2xx or 3xx Keyway refuses.",
    }),
  ),
  scope: Schema.optional(
    Schema.Literal("credential", "request").annotations({
      description:
        "What the verdict must judge: `credential` (the key) or `request` (only this request, such as a missing view).",
    }),
  ),
  source: NonEmpty.annotations({
    description:
      "Where the response is quoted from, with its confidence (H: the vendor's docs or SDK; M: a secondary source; L: a guess).",
    examples: ["vendors.md (H): ActivityInfo errors", "https://developer.example.com/errors (H)"],
  }),
}).annotations({
  title: "ErrorExample",
  description:
    "A response quoted from the vendor's documentation and the outcome it must give, classified exactly as a real response is.",
})
export type ErrorExample = typeof ErrorExample.Type

export const Errors = Schema.Struct({
  rules: Schema.Array(ErrorRule),
  useDefaultsFor: Schema.optional(
    Schema.Array(Schema.Int.pipe(Schema.between(100, 599))).annotations({
      description: "Statuses deliberately left to Keyway's default table.",
    }),
  ),
  messagePaths: Schema.optional(
    Schema.Array(Schema.String).annotations({
      description: "JSON paths to the vendor's own error message, tried in order.",
      examples: [["message", "messages[0]", "error_description"]],
    }),
  ),
  examples: Schema.optional(
    Schema.Array(ErrorExample).annotations({
      description:
        "Responses quoted from the vendor's documentation, each with the outcome it must give. The conformance suite classifies every one as a real response, so the rules are checked against the vendor's words, not against themselves.",
    }),
  ),
}).annotations({ title: "Errors" })

// ---------------------------------------------------------------------------------------------
// Rate limits

export const WaitHeaderUnit = Schema.Literal("seconds", "milliseconds", "epochSeconds", "epochMilliseconds", "httpDate")

export const CustomWaitHeader = Schema.Struct({
  name: HeaderName.annotations({
    description: "The header's name, as the vendor sends it.",
    examples: ["x-rate-limit-reset"],
  }),
  unit: WaitHeaderUnit.annotations({
    description:
      "seconds or milliseconds: a delay to wait; epochSeconds or epochMilliseconds: the moment to wait until; httpDate: an HTTP date to wait until.",
  }),
}).annotations({
  title: "CustomWaitHeader",
  description: "A wait header under another name, such as x-rate-limit-reset in epoch seconds.",
})
export type CustomWaitHeader = typeof CustomWaitHeader.Type

export const WaitHeader = Schema.Union(
  Schema.Literal("retry-after", "x-ratelimit-reset", "ratelimit").annotations({
    description: "A standard wait header, read in each of its known forms.",
  }),
  CustomWaitHeader,
)

export const HostLimit = Schema.Struct({
  requests: Schema.Int.pipe(Schema.positive()).annotations({ description: "Requests allowed in each window." }),
  seconds: Schema.Number.pipe(Schema.positive()).annotations({ description: "The window, in seconds." }),
}).annotations({
  title: "HostLimit",
  description:
    "A limit the vendor sets for all keys together at one base URL (per client address or per app), as published or as your plan states. Every request to that base URL, from every key and every worker, shares one schedule under it.",
})
export type HostLimit = typeof HostLimit.Type

export const RateLimit = Schema.Struct({
  retryOn: Schema.Array(Schema.Int.pipe(Schema.between(400, 599))).annotations({
    description: "Statuses worth retrying. 401, 403 and 404 never are.",
  }),
  waitHeaders: Schema.Array(WaitHeader).annotations({
    description:
      "Wait headers the vendor is known to send. Keyway reads every standard one regardless; a header under another name is read only when listed here, with its unit.",
  }),
  baseDelayMs: Schema.Int.pipe(Schema.positive()),
  maxDelayMs: Schema.Int.pipe(Schema.positive()),
  maxAttempts: Schema.Int.pipe(Schema.between(1, 20)),
  saveAndTestBudgetMs: Schema.Int.pipe(Schema.nonNegative()).annotations({
    description: "Longest total wait during save & test. A longer requested wait returns rate_limited with retryAfter.",
  }),
  syncBudgetMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  perHost: Schema.optional(HostLimit),
  notes: NonEmpty.annotations({ description: "What the vendor publishes about its limits." }),
}).annotations({ title: "RateLimit" })
export type RateLimit = typeof RateLimit.Type

// ---------------------------------------------------------------------------------------------
// Reports: the streams a sync can pull

export const StreamParam = Schema.Struct({
  key: Identifier.annotations({ description: "The name templates use: ${params.<key>}." }),
  description: NonEmpty,
  required: Schema.optional(Schema.Boolean.annotations({ description: "Defaults to false." })),
  example: Schema.optional(Schema.String),
}).annotations({ title: "StreamParam", description: "A value the caller supplies, such as a view or form id." })

export const DateRange = Schema.Struct({
  fromParam: NonEmpty.annotations({ description: "Query parameter (or body field) for the range start." }),
  toParam: NonEmpty,
  format: Schema.Literal("date", "datetime", "epochMs").annotations({
    description: "date: YYYY-MM-DD; datetime: ISO 8601; epochMs: milliseconds since 1970.",
  }),
  toInclusive: Schema.Boolean.annotations({ description: "Whether the vendor includes the `to` day itself." }),
  maxDays: Schema.optional(
    Schema.Int.pipe(Schema.positive()).annotations({
      description: "Longest range per request; longer ranges are sliced.",
    }),
  ),
}).annotations({ title: "DateRange" })

/** Where a response gives the total record count: paging stops once it has that many. */
const TotalPath = Schema.String.annotations({ description: "Where the response gives the total record count." })

const PagingNone = Schema.Struct({ kind: Schema.Literal("none") }).annotations({
  title: "PagingNone",
  description: "One request returns everything.",
})
const PagingPage = Schema.Struct({
  kind: Schema.Literal("page"),
  pageParam: NonEmpty,
  sizeParam: NonEmpty,
  size: Schema.Int.pipe(Schema.positive()),
  firstPage: Schema.optional(Schema.Int.pipe(Schema.nonNegative()).annotations({ description: "Defaults to 1." })),
  totalPath: Schema.optional(TotalPath),
}).annotations({ title: "PagingPage", description: "Page number and page size, optionally with a total." })
const PagingOffset = Schema.Struct({
  kind: Schema.Literal("offset"),
  offsetParam: NonEmpty,
  limitParam: NonEmpty,
  limit: Schema.Int.pipe(Schema.positive()),
  firstOffset: Schema.optional(Schema.Int.pipe(Schema.nonNegative()).annotations({ description: "Defaults to 0." })),
  totalPath: Schema.optional(TotalPath),
}).annotations({ title: "PagingOffset", description: "Offset and limit, optionally with a total count." })
const PagingCursor = Schema.Struct({
  kind: Schema.Literal("cursor"),
  cursorParam: NonEmpty,
  cursorPath: Schema.String.annotations({ description: "Where the response gives the next cursor." }),
  sizeParam: Schema.optional(NonEmpty),
  size: Schema.optional(Schema.Int.pipe(Schema.positive())),
}).annotations({
  title: "PagingCursor",
  description: "An opaque cursor. An empty page, or one that hands back the same cursor, means caught up.",
})
const PagingWindow = Schema.Struct({
  kind: Schema.Literal("window"),
  windowField: NonEmpty.annotations({ description: "Body field that takes [offset, limit]." }),
  limit: Schema.Int.pipe(Schema.positive()),
  totalPath: TotalPath,
}).annotations({ title: "PagingWindow", description: "A POST body window [offset, limit], with a total row count." })
const PagingFeed = Schema.Struct({
  kind: Schema.Literal("feed"),
  startField: NonEmpty.annotations({ description: "Body field that takes where to start (e.g. startTime)." }),
  nextPath: Schema.String.annotations({ description: "Where the response gives the next start (e.g. endTime)." }),
  morePath: Schema.String.annotations({ description: "Where the response says whether more remains." }),
}).annotations({
  title: "PagingFeed",
  description: "A time-based feed: start, then the next start, while more remains.",
})

export const Paging = Schema.Union(PagingNone, PagingPage, PagingOffset, PagingCursor, PagingWindow, PagingFeed)
export type Paging = typeof Paging.Type

export const ReportStream = Schema.Struct({
  id: Identifier,
  description: NonEmpty,
  method: Schema.optional(Method.annotations({ description: "Defaults to GET." })),
  path: Template.annotations({ description: "Path under the base URL; may use ${params.<key>} and settings." }),
  headers: Schema.optional(Headers),
  params: Schema.optional(Schema.Array(StreamParam)),
  exclusiveParams: Schema.optional(
    Schema.Array(Schema.Array(Identifier).pipe(Schema.minItems(2))).annotations({
      description:
        "Groups of this stream's params that the vendor takes at most one of each. A sync given two params of one group is refused before any request, naming both.",
      examples: [[["clientId", "groupId", "deviceId"]]],
    }),
  ),
  query: Schema.optional(
    Schema.Record({ key: Schema.String, value: Template }).annotations({
      description: "A parameter whose template names an absent optional param is left out.",
    }),
  ),
  body: Schema.optional(
    Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
      description: "JSON body for POST streams; string values are templates.",
    }),
  ),
  dateRange: Schema.optional(DateRange),
  records: Schema.String.annotations({
    description: "Where the records are in the body: a JSON path, `$` for a top-level array.",
    examples: ["activity", "data", "$"],
  }),
  recordsFallback: Schema.optional(
    Schema.String.annotations({ description: "Tried when `records` is absent (vendors that vary the key's case)." }),
  ),
  columnSet: Schema.optional(
    Schema.Boolean.annotations({ description: "The body is a column set ({columns: {...}}) to turn into rows." }),
  ),
  primaryKey: Schema.NonEmptyArray(NonEmpty),
  incremental: Schema.optional(
    Schema.Struct({
      cursorField: NonEmpty.annotations({
        description: "Record field that only grows; the next sync starts from its last value.",
      }),
    }),
  ),
  paging: Paging,
  auth: Schema.optional(Schema.Array(Placement).annotations({ description: "Replaces the connector's auth." })),
  whenCredentials: Schema.optional(
    Schema.Array(Identifier).annotations({ description: "Credentials this stream needs." }),
  ),
  assumed: Schema.optional(
    NonEmpty.annotations({ description: "What this stream assumes that the vendor does not document." }),
  ),
}).annotations({ title: "ReportStream", description: "A report a sync can pull, page by page." })
export type ReportStream = typeof ReportStream.Type

// ---------------------------------------------------------------------------------------------
// The whole file

export const Setup = Schema.Struct({
  prerequisites: Schema.Array(NonEmpty),
  steps: Schema.NonEmptyArray(NonEmpty),
  securityNotes: Schema.optional(Schema.Array(NonEmpty)),
}).annotations({ title: "Setup", description: "What a customer does to get the credentials." })

export const ConnectorDefinition = Schema.Struct({
  id: Schema.String.pipe(
    Schema.pattern(/^[a-z0-9][a-z0-9-]*$/, {
      message: () => "must be lower-case letters, digits and -, starting with a letter or digit",
    }),
  ).annotations({ description: "Matches the file name.", examples: ["acme", "15five"] }),
  name: NonEmpty,
  category: NonEmpty,
  docs: Schema.optional(
    Schema.Struct({
      api: Schema.optional(HttpsUrl.annotations({ description: "The vendor's API reference." })),
      credentials: Schema.optional(HttpsUrl.annotations({ description: "The vendor's guide to creating a key." })),
    }),
  ),
  assumed: Schema.optional(
    Schema.Array(NonEmpty).annotations({
      description:
        "Each fact in this file that is not in the vendor's own docs, one per line, so a reviewer knows what to confirm.",
    }),
  ),
  setup: Setup,
  credentials: Schema.NonEmptyArray(Credential),
  settings: Schema.optional(Schema.Array(Setting)),
  baseUrl: BaseUrl,
  headers: Schema.optional(Headers.annotations({ description: "Sent with every request." })),
  auth: Schema.NonEmptyArray(Placement),
  scopes: Schema.optional(
    Schema.Array(Schema.Struct({ name: NonEmpty, description: NonEmpty })).annotations({
      description: "The key scopes the vendor offers, narrowest first: a test should need only the first.",
    }),
  ),
  test: Schema.Struct({
    requests: Schema.Array(TestRequest).annotations({
      description: "Without one, save & test can only check formats, and says `tested: false`.",
    }),
    probes: Schema.optional(Schema.Array(Probe)),
  }),
  errors: Errors,
  rateLimit: RateLimit,
  reports: Schema.optional(Schema.Array(ReportStream)),
}).annotations({
  identifier: "ConnectorDefinition",
  title: "Keyway connector definition",
  description: "One vendor's credentials, base URL, test request, error mappings and rate limits.",
})
export type ConnectorDefinition = typeof ConnectorDefinition.Type
