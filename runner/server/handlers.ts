/**
 * The API's handlers: each turns a request into a call of the shared save & test path
 * (`service.ts`), and every failure into one of the API's problems, with a stable code.
 */
import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { connectorForm } from "../../core/form.ts"
import type { CheckResult } from "../check/check.ts"
import { view } from "../vault/connections.ts"
import { compareListed, type Listed } from "../vault/store.ts"
import {
  Authorization,
  BadRequest,
  CheckFailed,
  Conflict,
  KeywayApi,
  NotFound,
  TooManyRequests,
  Unauthorized,
  Unavailable,
  Workspace,
} from "./api.ts"
import { KeywayServerTag, type RateLimited, retestIn, saveAndTest } from "./service.ts"
import { requestHash } from "./state.ts"

/** Every failure a handler can meet, as the API's problem. */
export const asProblem = (error: { readonly _tag: string; readonly message: string }) => {
  switch (error._tag) {
    case "InvalidInput":
      return new BadRequest({
        code: "invalid_input",
        message: error.message,
        remediation: "Correct the fields named, then send the request again.",
        fields: (error as unknown as { problems: ReadonlyArray<{ field: string; message: string }> }).problems,
      })
    case "UnknownConnector":
    case "DefinitionInvalid":
      return new NotFound({
        code: "unknown_connector",
        message: error.message,
        remediation: "List the connectors with GET /v1/connectors.",
      })
    case "ConnectionNotFound":
      return new NotFound({
        code: "connection_not_found",
        message: "No such connection in this workspace.",
        remediation: "List the connections with GET /v1/connections.",
      })
    case "RateLimited":
      return new TooManyRequests({
        code: "too_many_checks",
        message: "Too many checks for this workspace.",
        remediation: "Wait, then try again.",
        retryAfterSeconds: (error as RateLimited).retryAfterSeconds,
      })
    default:
      // Nothing else is logged: the problem names what failed, never a value.
      return new Unavailable({
        code: "store_unavailable",
        message: `Keyway could not use its credential store (${error._tag}).`,
        remediation:
          "Try again shortly. If it persists, the operator should check the store (KEYWAY_STORE) and the master keys (KEYWAY_HOME, KEYWAY_MASTER_KEY).",
      })
  }
}

const failedCheck = (result: CheckResult) =>
  new CheckFailed({
    code: result.verdict.code,
    outcome: result.verdict.outcome,
    message: result.verdict.message,
    remediation: result.verdict.remediation,
    ...(result.verdict.retryAfterSeconds !== undefined ? { retryAfterSeconds: result.verdict.retryAfterSeconds } : {}),
    result,
  })

/**
 * Runs `effect` once per Idempotency-Key: a retry gets the first answer, success or failed check.
 * The request's fingerprint (a hash of its body) is computed only when there is a key.
 */
const once = <A, E, R>(
  workspace: string,
  key: string | undefined,
  fingerprintOf: () => string,
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, E | Conflict | CheckFailed, R | KeywayServerTag> => {
  if (!key) return effect
  return Effect.gen(function* () {
    const server = yield* KeywayServerTag
    const fingerprint = fingerprintOf()
    const scoped = `${workspace}:${key}`
    const previous = yield* Effect.orElseSucceed(server.state.idempotent(workspace, key), () => undefined)
    if (previous) {
      if (previous.request !== fingerprint) {
        return yield* Effect.fail(
          new Conflict({
            code: "idempotency_key_reused",
            message: "This Idempotency-Key was used for a different request.",
            remediation: "Use a new key for a new request.",
          }),
        )
      }
      if (previous.status === 422) return yield* Effect.fail(failedCheck(previous.body as CheckResult))
      return previous.body as A
    }
    if (inFlight.has(scoped)) {
      return yield* Effect.fail(
        new Conflict({
          code: "idempotency_key_in_flight",
          message: "A request with this Idempotency-Key is still running.",
          remediation: "Wait for it, then retry with the same key to get its answer.",
        }),
      )
    }
    inFlight.add(scoped)
    const remember = (status: number, body: unknown) =>
      Effect.orElseSucceed(
        server.state.rememberAnswer(workspace, key, {
          request: fingerprint,
          status,
          body,
          at: new Date().toISOString(),
        }),
        () => undefined,
      )
    return yield* effect.pipe(
      Effect.tap((answer) => remember(200, answer)),
      Effect.tapError((error) =>
        (error as { _tag?: string })?._tag === "CheckFailed"
          ? remember(422, (error as unknown as CheckFailed).result)
          : Effect.void,
      ),
      Effect.ensuring(Effect.sync(() => inFlight.delete(scoped))),
    )
  })
}
const inFlight = new Set<string>()

const secrets = (credentials: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(credentials).map(([key, value]) => [key, Redacted.make(value)]))

export const connectorsLive = HttpApiBuilder.group(KeywayApi, "connectors", (handlers) =>
  handlers
    .handle("list", () =>
      Effect.map(KeywayServerTag, (server) => ({ connectors: [...server.definitions.values()].map(connectorForm) })),
    )
    .handle("show", ({ path }) =>
      Effect.flatMap(KeywayServerTag, (server) => {
        const definition = server.definitions.get(path.connector)
        return definition
          ? Effect.succeed(connectorForm(definition))
          : Effect.fail(asProblem({ _tag: "UnknownConnector", message: `no connector "${path.connector}"` }))
      }),
    ),
)

export const connectionsLive = HttpApiBuilder.group(KeywayApi, "connections", (handlers) =>
  handlers
    .handle(
      "create",
      ({ payload, headers }) =>
        Effect.gen(function* () {
          const server = yield* KeywayServerTag
          const workspace = yield* Workspace
          const run = Effect.gen(function* () {
            const definition = server.definitions.get(payload.connector)
            if (!definition)
              return yield* Effect.fail(
                asProblem({ _tag: "UnknownConnector", message: `no connector "${payload.connector}"` }),
              )
            yield* server.takeCheck(workspace)
            const { result, connection } = yield* saveAndTest(
              server,
              workspace,
              definition,
              {
                connectorId: definition.id,
                credentials: secrets(payload.credentials),
                ...(payload.settings ? { settings: payload.settings } : {}),
                ...(payload.label ? { label: payload.label } : {}),
                ...(payload.expiresAt ? { expiresAt: payload.expiresAt } : {}),
                ...(payload.tags ? { tags: payload.tags } : {}),
                ...(payload.endUser ? { endUser: payload.endUser } : {}),
              },
              "api",
            )
            if (!connection) return yield* Effect.fail(failedCheck(result))
            return { connection, result }
          }).pipe(problems)
          return yield* problems(
            once(workspace, headers["idempotency-key"], () => requestHash("POST", "/v1/connections", payload), run),
          )
        }),
      { uninterruptible: true },
    )
    .handle("list", ({ urlParams }) =>
      Effect.gen(function* () {
        const server = yield* KeywayServerTag
        const workspace = yield* Workspace
        const listing = yield* server.state.storeFor(workspace).list()
        const limit = urlParams.limit ?? 50
        let start = 0
        if (urlParams.cursor !== undefined) {
          const after = decodeCursor(urlParams.cursor)
          if (!after) {
            return yield* Effect.fail(
              new BadRequest({
                code: "invalid_cursor",
                message: "That cursor is not one this API gave.",
                remediation:
                  "Pass the nextCursor of the page before, or leave cursor out to start from the first page.",
              }),
            )
          }
          // The first connection listed after the cursor's, whether or not that one is still there.
          const next = listing.records.findIndex((record) => compareListed(record, after) > 0)
          start = next === -1 ? listing.records.length : next
        }
        const records = listing.records.slice(start, start + limit)
        const last = records.at(-1)
        return {
          connections: records.map(view),
          ...(last && start + limit < listing.records.length ? { nextCursor: encodeCursor(last) } : {}),
        }
      }).pipe(problems),
    )
    .handle("get", ({ path }) =>
      Effect.gen(function* () {
        const server = yield* KeywayServerTag
        const workspace = yield* Workspace
        const record = yield* server.state.storeFor(workspace).get(path.id)
        if (!record || record.workspace !== workspace) {
          return yield* Effect.fail(asProblem({ _tag: "ConnectionNotFound", message: "" }))
        }
        return view(record)
      }).pipe(problems),
    )
    .handle(
      "test",
      ({ path }) =>
        Effect.gen(function* () {
          const server = yield* KeywayServerTag
          const workspace = yield* Workspace
          yield* server.takeCheck(workspace)
          const done = yield* retestIn(server, workspace, path.id, undefined, undefined, "api")
          return { connection: done.connection, result: done.result }
        }).pipe(problems),
      { uninterruptible: true },
    )
    .handle(
      "replace",
      ({ path, payload }) =>
        Effect.gen(function* () {
          const server = yield* KeywayServerTag
          const workspace = yield* Workspace
          yield* server.takeCheck(workspace)
          const done = yield* retestIn(server, workspace, path.id, payload.credentials, payload.expiresAt, "api")
          if (!done.replaced) return yield* Effect.fail(failedCheck(done.result))
          return { connection: done.connection, result: done.result }
        }).pipe(problems),
      { uninterruptible: true },
    )
    .handle(
      "remove",
      ({ path }) =>
        Effect.gen(function* () {
          const server = yield* KeywayServerTag
          const workspace = yield* Workspace
          const store = server.state.storeFor(workspace)
          const record = yield* store.get(path.id)
          if (!record || record.workspace !== workspace) {
            return yield* Effect.fail(asProblem({ _tag: "ConnectionNotFound", message: "" }))
          }
          // The removal and its event are one write: a log that said "removed" of a credential still
          // stored would mislead whoever is revoking it, and a removal the log missed would hide it.
          const event = { type: "removed" as const, at: new Date().toISOString(), by: "api" }
          yield* server.state.recordEventWith(workspace, record.id, event, (alongside) =>
            Effect.flatMap(store.remove(record.id, alongside), (removed) =>
              // Another request removed it first, and recorded that.
              removed ? Effect.void : Effect.fail(asProblem({ _tag: "ConnectionNotFound", message: "" })),
            ),
          )
        }).pipe(problems),
      { uninterruptible: true },
    )
    .handle("events", ({ path }) =>
      Effect.gen(function* () {
        const server = yield* KeywayServerTag
        const workspace = yield* Workspace
        const events = yield* server.state.events(workspace, path.id)
        if (events.length === 0) return yield* Effect.fail(asProblem({ _tag: "ConnectionNotFound", message: "" }))
        return { events }
      }).pipe(problems),
    ),
)

export const sessionsLive = HttpApiBuilder.group(KeywayApi, "sessions", (handlers) =>
  handlers.handle("create", ({ payload, headers }) =>
    Effect.gen(function* () {
      const server = yield* KeywayServerTag
      const workspace = yield* Workspace
      const run = Effect.gen(function* () {
        const origin = originOf(payload.allowedOrigin)
        if (!origin) {
          return yield* Effect.fail(
            new BadRequest({
              code: "invalid_origin",
              message: "allowedOrigin must be one origin, such as https://app.example.com: no path, no wildcard.",
              remediation: "Send the origin of the page that opens the connect form.",
            }),
          )
        }
        for (const id of payload.allowedConnectors ?? []) {
          if (!server.definitions.has(id))
            return yield* Effect.fail(asProblem({ _tag: "UnknownConnector", message: `no connector "${id}"` }))
        }
        if (payload.reconnect) {
          const record = yield* server.state.storeFor(workspace).get(payload.reconnect)
          if (!record) return yield* Effect.fail(asProblem({ _tag: "ConnectionNotFound", message: "" }))
        }
        const { token, session } = yield* server.state.createSession(
          {
            workspace,
            endUser: payload.endUser,
            allowedOrigin: origin,
            ...(payload.allowedConnectors ? { allowedConnectors: payload.allowedConnectors } : {}),
            ...(payload.defaults ? { defaults: payload.defaults } : {}),
            ...(payload.tags ? { tags: payload.tags } : {}),
            ...(payload.returnUrl ? { returnUrl: payload.returnUrl } : {}),
            ...(payload.reconnect ? { reconnect: payload.reconnect } : {}),
          },
          server.limits.sessionLifetimeMs,
          Date.now(),
        )
        return { token, connectLink: `${server.publicUrl()}/connect/${token}`, expiresAt: session.expiresAt }
      }).pipe(problems)
      return yield* problems(
        once(workspace, headers["idempotency-key"], () => requestHash("POST", "/v1/sessions", payload), run),
      )
    }),
  ),
)

/** `https://app.example.com` from anything naming one origin exactly; undefined for a path, a wildcard or junk. */
export const originOf = (text: string): string | undefined => {
  try {
    const url = new URL(text)
    if (!["http:", "https:"].includes(url.protocol) || url.origin !== text.replace(/\/$/, "")) return undefined
    return url.origin
  } catch {
    return undefined
  }
}

const API_ERRORS = new Set([
  "BadRequest",
  "NotFound",
  "Conflict",
  "TooManyRequests",
  "CheckFailed",
  "Unavailable",
  "Unauthorized",
])
type Problem = BadRequest | NotFound | Conflict | TooManyRequests | CheckFailed | Unavailable
const isApiError = (error: unknown): error is Problem => API_ERRORS.has((error as { _tag?: string })?._tag ?? "")

/** Every failure of `effect` as one of the API's problems. */
const problems = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, Problem, R> => Effect.mapError(effect, (error) => (isApiError(error) ? error : asProblem(error)))

/**
 * A page's cursor: where its last connection sits in the listing's order (its creation time and id),
 * not the connection itself, so the next page goes on from there even when that one has been removed.
 */
const encodeCursor = (record: Listed) =>
  Buffer.from(JSON.stringify([record.createdAt, record.id])).toString("base64url")
const decodeCursor = (cursor: string): Listed | undefined => {
  try {
    const position: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString())
    return Array.isArray(position) &&
      position.length === 2 &&
      typeof position[0] === "string" &&
      typeof position[1] === "string"
      ? { createdAt: position[0], id: position[1] }
      : undefined
  } catch {
    return undefined
  }
}

export const authorizationLive = Layer.effect(
  Authorization,
  Effect.map(KeywayServerTag, (server) => ({
    workspaceKey: (key: Redacted.Redacted<string>) =>
      Effect.flatMap(
        Effect.orElseSucceed(server.state.workspaceOfKey(Redacted.value(key)), () => undefined),
        (workspace) =>
          workspace
            ? Effect.succeed(workspace)
            : Effect.fail(
                new Unauthorized({
                  code: "unauthorized",
                  message: "No workspace API key, or one Keyway does not know.",
                  remediation: "Send Authorization: Bearer <key>, with a key from keyway workspaces create.",
                }),
              ),
      ),
  })),
)

export const apiLive = HttpApiBuilder.api(KeywayApi).pipe(
  Layer.provide([connectorsLive, connectionsLive, sessionsLive]),
  Layer.provide(authorizationLive),
)

const noFleet = () =>
  new Unavailable({
    code: "no_fleet",
    message: "Schedules need the fleet's Redis, and this server has none.",
    remediation: "Start keyway serve with KEYWAY_REDIS set, and run keyway worker beside it.",
  })

/** A connection's sync schedules: BullMQ job schedulers, keyed by workspace, connection and stream. */
export const schedulesLive = HttpApiBuilder.group(KeywayApi, "schedules", (handlers) => {
  const owned = (id: string) =>
    Effect.gen(function* () {
      const server = yield* KeywayServerTag
      const workspace = yield* Workspace
      const record = yield* server.state.storeFor(workspace).get(id)
      if (!record || record.workspace !== workspace) {
        return yield* Effect.fail(asProblem({ _tag: "ConnectionNotFound", message: "" }))
      }
      if (!server.queues) return yield* Effect.fail(noFleet())
      // Loaded with the queues: a server without the fleet's Redis never loads BullMQ.
      const schedules = yield* Effect.promise(() => import("../fleet/schedules.ts"))
      return { queues: server.queues, workspace, record, schedules }
    })
  return handlers
    .handle("list", ({ path }) =>
      Effect.gen(function* () {
        const { queues, workspace, schedules: fleet } = yield* owned(path.id)
        const prefix = `sync:${workspace}:${path.id}:`
        const schedules = (yield* Effect.promise(() => fleet.listSchedules(queues)))
          .filter((s) => s.id.startsWith(prefix))
          .map((s) => ({
            id: s.id,
            connectionId: path.id,
            stream: s.id.slice(prefix.length),
            cron: s.pattern ?? "",
            ...(s.next !== undefined ? { next: s.next } : {}),
          }))
        return { schedules }
      }).pipe(problems),
    )
    .handle("upsert", ({ path, payload }) =>
      Effect.gen(function* () {
        const { queues, workspace, record, schedules } = yield* owned(path.id)
        const server = yield* KeywayServerTag
        const definition = server.definitions.get(record.connector)
        if (!definition?.reports?.some((stream) => stream.id === path.stream)) {
          return yield* Effect.fail(
            new NotFound({
              code: "unknown_stream",
              message: `${record.connector} has no stream "${path.stream}".`,
              remediation: "See GET /v1/connectors/{connector}, or npx keyway streams <connector>.",
            }),
          )
        }
        const job = {
          workspace,
          connectionId: path.id,
          streamId: path.stream,
          ...(payload.params ? { params: payload.params } : {}),
        }
        const next = yield* Effect.tryPromise({
          try: () => schedules.scheduleSync(queues, job, payload.cron),
          catch: () =>
            new BadRequest({
              code: "invalid_cron",
              message: `"${payload.cron}" is not a cron pattern.`,
              remediation: 'Give five fields, such as "0 * * * *" for hourly.',
            }),
        })
        return {
          id: `sync:${workspace}:${path.id}:${path.stream}`,
          connectionId: path.id,
          stream: path.stream,
          cron: payload.cron,
          ...(next?.timestamp !== undefined ? { next: next.timestamp + (next.opts.delay ?? 0) } : {}),
        }
      }).pipe(problems),
    )
    .handle("remove", ({ path }) =>
      Effect.gen(function* () {
        const { queues, workspace } = yield* owned(path.id)
        const removed = yield* Effect.promise(() =>
          queues.sync.removeJobScheduler(`sync:${workspace}:${path.id}:${path.stream}`),
        )
        if (!removed) {
          return yield* Effect.fail(
            new NotFound({
              code: "schedule_not_found",
              message: "No such schedule for this connection.",
              remediation: "See GET /v1/connections/{id}/schedules.",
            }),
          )
        }
      }).pipe(problems),
    )
})
