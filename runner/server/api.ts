/**
 * The HTTP API for a host application's backend, as one `HttpApi` value: every endpoint's payload,
 * success and error Schemas are declared here, and `/openapi.json` is generated from them.
 *
 * Every error answers `{ _tag, code, message, remediation }`: `code` is the same stable code the CLI
 * and the library give (a verdict's code for a failed check), so a host can branch on it.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi,
} from "@effect/platform"
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"

// ---------------------------------------------------------------------------------------------
// What the API answers

export const Verdict = Schema.Struct({
  outcome: Schema.String,
  actor: Schema.String,
  code: Schema.String.annotations({ description: "Stable: the same code the CLI and the library give." }),
  reason: Schema.String,
  message: Schema.String,
  remediation: Schema.String,
  httpStatus: Schema.optional(Schema.Number),
  vendorMessage: Schema.optional(Schema.String),
  retryAfterSeconds: Schema.optional(Schema.Number),
  scope: Schema.optional(Schema.String),
}).annotations({ identifier: "Verdict", description: "What a check found, who must act, and what to do." })

export const Attempt = Schema.Struct({
  request: Schema.String,
  status: Schema.optional(Schema.Number),
  error: Schema.optional(Schema.String),
  heldMs: Schema.optional(Schema.Number),
  heldBy: Schema.optional(Schema.String),
  waitMs: Schema.optional(Schema.Number),
  waitSetBy: Schema.optional(Schema.String),
}).annotations({ identifier: "Attempt" })

export const CheckResult = Schema.Struct({
  connector: Schema.String,
  verdict: Verdict,
  tested: Schema.Boolean,
  attempts: Schema.Array(Attempt),
  durationMs: Schema.Number,
  warnings: Schema.Array(Schema.String),
  fingerprints: Schema.Record({ key: Schema.String, value: Schema.String }),
  baseUrl: Schema.String,
  expiresAt: Schema.optional(Schema.String),
}).annotations({ identifier: "CheckResult", description: "Save & test's result: the verdict and its evidence." })

const Strings = Schema.Record({ key: Schema.String, value: Schema.String })

export const EndUser = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  email: Schema.optional(Schema.String.pipe(Schema.maxLength(320))),
  displayName: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
}).annotations({ identifier: "EndUser", description: "The host application's user a connection is for." })

export const Connection = Schema.Struct({
  id: Schema.String,
  workspace: Schema.String,
  connector: Schema.String,
  label: Schema.String,
  settings: Strings,
  fingerprints: Strings.annotations({ description: "The last 4 characters of each secret: all of one ever shown." }),
  createdAt: Schema.String,
  updatedAt: Schema.String,
  lastTest: Schema.optional(Schema.Struct({ at: Schema.String, by: Schema.String, verdict: Verdict })),
  expiresAt: Schema.optional(Schema.String),
  expirySource: Schema.optional(Schema.Literal("given", "estimated")),
  tags: Schema.optional(Strings),
  endUser: Schema.optional(EndUser),
}).annotations({ identifier: "Connection", description: "A saved connection: never its credentials." })

export const ConnectionEvent = Schema.Struct({
  type: Schema.Literal("created", "tested", "failed", "replaced", "expired", "removed", "synced", "sync_failed"),
  at: Schema.String,
  by: Schema.String,
  code: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
}).annotations({ identifier: "ConnectionEvent" })

export const FormField = Schema.Struct({
  kind: Schema.Literal("credential", "setting"),
  key: Schema.String,
  label: Schema.String,
  description: Schema.String,
  input: Schema.Literal("password", "text", "select", "url"),
  secret: Schema.Boolean,
  required: Schema.Boolean,
  pattern: Schema.optional(Schema.String),
  hint: Schema.optional(Schema.String),
  minLength: Schema.optional(Schema.Number),
  maxLength: Schema.optional(Schema.Number),
  noWhitespace: Schema.optional(Schema.Boolean),
  options: Schema.optional(Schema.Array(Schema.Struct({ value: Schema.String, label: Schema.String }))),
  default: Schema.optional(Schema.String),
  example: Schema.optional(Schema.String),
  group: Schema.optional(Schema.String),
}).annotations({ identifier: "FormField", description: "One input of the connect form, from the definition." })

export const ConnectorForm = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  category: Schema.String,
  docs: Schema.optional(
    Schema.Struct({ api: Schema.optional(Schema.String), credentials: Schema.optional(Schema.String) }),
  ),
  prerequisites: Schema.Array(Schema.String),
  steps: Schema.Array(Schema.String),
  securityNotes: Schema.Array(Schema.String),
  fields: Schema.Array(FormField),
}).annotations({ identifier: "ConnectorForm", description: "A connector, with the form derived from its definition." })

const Page = <A, I, R>(item: Schema.Schema<A, I, R>, name: string) =>
  Schema.Struct({
    [name]: Schema.Array(item),
    nextCursor: Schema.optional(Schema.String.annotations({ description: "Pass as `cursor` for the next page." })),
  })

// ---------------------------------------------------------------------------------------------
// Errors

const problem = { code: Schema.String, message: Schema.String, remediation: Schema.String }

export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  {
    ...problem,
    fields: Schema.optional(Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String }))),
  },
  HttpApiSchema.annotations({ status: 400, description: "The request is malformed, or a field is wrong." }),
) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  problem,
  HttpApiSchema.annotations({ status: 401, description: "No workspace API key, or one Keyway does not know." }),
) {}
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  problem,
  HttpApiSchema.annotations({ status: 404, description: "No such connector or connection in this workspace." }),
) {}
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  problem,
  HttpApiSchema.annotations({
    status: 409,
    description: "An Idempotency-Key reused for another request, or one still running.",
  }),
) {}
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()(
  "TooManyRequests",
  { ...problem, retryAfterSeconds: Schema.Number },
  HttpApiSchema.annotations({ status: 429, description: "Too many checks for this workspace: try again later." }),
) {}
export class CheckFailed extends Schema.TaggedError<CheckFailed>()(
  "CheckFailed",
  {
    ...problem,
    outcome: Schema.String,
    retryAfterSeconds: Schema.optional(Schema.Number),
    result: CheckResult,
  },
  HttpApiSchema.annotations({
    status: 422,
    description: "The vendor did not accept the credentials: nothing was saved or replaced. `code` is the verdict's.",
  }),
) {}
export class Unavailable extends Schema.TaggedError<Unavailable>()(
  "Unavailable",
  problem,
  HttpApiSchema.annotations({ status: 503, description: "The credential store is unavailable." }),
) {}

// ---------------------------------------------------------------------------------------------
// What the API takes

const Credentials = Schema.Record({ key: Schema.String, value: Schema.String }).annotations({
  description: "The credentials, by key. Never echoed, never logged.",
})

export const CreateConnection = Schema.Struct({
  connector: Schema.String,
  credentials: Credentials,
  settings: Schema.optional(Strings),
  label: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  expiresAt: Schema.optional(Schema.String.annotations({ description: "YYYY-MM-DD, when the customer knows it." })),
  tags: Schema.optional(Strings),
  endUser: Schema.optional(EndUser),
})

export const ReplaceCredentials = Schema.Struct({
  credentials: Credentials,
  expiresAt: Schema.optional(Schema.String),
})

export const CreateSession = Schema.Struct({
  endUser: EndUser,
  allowedOrigin: Schema.String.annotations({
    description:
      "The host page's origin (https://app.example.com): the only one the form talks to or may be framed by.",
  }),
  allowedConnectors: Schema.optional(Schema.Array(Schema.String)),
  defaults: Schema.optional(
    Schema.Record({ key: Schema.String, value: Strings }).annotations({
      description: "Non-secret settings to pre-fill, by connector: { activtrak: { region: eu } }.",
    }),
  ),
  tags: Schema.optional(Strings.annotations({ description: "Copied onto the connection the session makes." })),
  returnUrl: Schema.optional(
    Schema.String.annotations({ description: "Where the form sends the customer on success." }),
  ),
  reconnect: Schema.optional(Schema.String.annotations({ description: "A connection whose credentials to replace." })),
})

export const Session = Schema.Struct({
  token: Schema.String.annotations({ description: "Short-lived, single-use." }),
  connectLink: Schema.String,
  expiresAt: Schema.String,
}).annotations({ identifier: "Session" })

const IdempotencyHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(
    Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({
      description: "A retried request with the same key gets the first answer, and runs nothing twice.",
    }),
  ),
})

const connectionId = HttpApiSchema.param("id", Schema.String)
const connectorId = HttpApiSchema.param("connector", Schema.String)

export class Workspace extends Context.Tag("keyway/server/Workspace")<Workspace, string>() {}

export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("Authorization", {
  failure: Unauthorized,
  provides: Workspace,
  security: {
    workspaceKey: HttpApiSecurity.annotate(
      HttpApiSecurity.bearer,
      OpenApi.Description,
      "A workspace API key, from `keyway workspaces create`.",
    ),
  },
}) {}

const Checked = Schema.Struct({ connection: Connection, result: CheckResult })

export const connectorsGroup = HttpApiGroup.make("connectors")
  .add(
    HttpApiEndpoint.get("list", "/v1/connectors").addSuccess(
      Schema.Struct({ connectors: Schema.Array(ConnectorForm) }),
    ),
  )
  .add(HttpApiEndpoint.get("show")`/v1/connectors/${connectorId}`.addSuccess(ConnectorForm).addError(NotFound))
  .middleware(Authorization)

export const connectionsGroup = HttpApiGroup.make("connections")
  .add(
    HttpApiEndpoint.post("create", "/v1/connections")
      .setPayload(CreateConnection)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(Checked.annotations({ description: "Tested, passed and saved." }), { status: 201 }),
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/connections")
      .setUrlParams(
        Schema.Struct({
          cursor: Schema.optional(Schema.String),
          limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 200))),
        }),
      )
      .addSuccess(Page(Connection, "connections")),
  )
  .add(HttpApiEndpoint.get("get")`/v1/connections/${connectionId}`.addSuccess(Connection).addError(NotFound))
  .add(
    HttpApiEndpoint.post("test")`/v1/connections/${connectionId}/test`.addSuccess(
      Checked.annotations({ description: "Re-tested: the verdict is recorded as the connection's last test." }),
    ),
  )
  .add(
    HttpApiEndpoint.put("replace")`/v1/connections/${connectionId}/credentials`
      .setPayload(ReplaceCredentials)
      .addSuccess(Checked.annotations({ description: "The new credentials passed, and replace the stored ones." })),
  )
  .add(HttpApiEndpoint.del("remove")`/v1/connections/${connectionId}`.addSuccess(HttpApiSchema.NoContent))
  .add(
    HttpApiEndpoint.get("events")`/v1/connections/${connectionId}/events`.addSuccess(
      Schema.Struct({ events: Schema.Array(ConnectionEvent) }),
    ),
  )
  .middleware(Authorization)

export const SyncSchedule = Schema.Struct({
  id: Schema.String,
  connectionId: Schema.String,
  stream: Schema.String,
  cron: Schema.String,
  next: Schema.optional(Schema.Number.annotations({ description: "When it runs next, ms since 1970." })),
}).annotations({
  identifier: "SyncSchedule",
  description: "A connection's stream, synced by the fleet's workers on a cron.",
})

const streamParam = HttpApiSchema.param("stream", Schema.String)

export const schedulesGroup = HttpApiGroup.make("schedules")
  .add(
    HttpApiEndpoint.get("list")`/v1/connections/${connectionId}/schedules`.addSuccess(
      Schema.Struct({ schedules: Schema.Array(SyncSchedule) }),
    ),
  )
  .add(
    HttpApiEndpoint.put("upsert")`/v1/connections/${connectionId}/schedules/${streamParam}`
      .setPayload(
        Schema.Struct({
          cron: Schema.String.annotations({ description: 'A cron pattern, e.g. "0 * * * *" for hourly.' }),
          params: Schema.optional(Strings),
        }),
      )
      .addSuccess(SyncSchedule),
  )
  .add(
    HttpApiEndpoint.del("remove")`/v1/connections/${connectionId}/schedules/${streamParam}`.addSuccess(
      HttpApiSchema.NoContent,
    ),
  )
  .middleware(Authorization)

export const sessionsGroup = HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.post("create", "/v1/sessions")
      .setPayload(CreateSession)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(Session, { status: 201 }),
  )
  .middleware(Authorization)

export class KeywayApi extends HttpApi.make("keyway")
  .add(connectorsGroup)
  .add(connectionsGroup)
  .add(sessionsGroup)
  .add(schedulesGroup)
  // Every problem at the API's level: one shape, whichever endpoint answers it.
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(CheckFailed)
  .addError(TooManyRequests)
  .addError(Unavailable)
  .annotate(OpenApi.Title, "Keyway")
  .annotate(
    OpenApi.Description,
    "Save & test customer credentials for third-party APIs, from a host application's backend.",
  ) {}
