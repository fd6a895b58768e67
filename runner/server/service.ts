/**
 * What the API and the connect form share: one save & test path (the library's `connect` and
 * `retest`), each workspace's store, the audit log, rate limits per workspace and per session, and
 * the mapping of every failure to a problem with a stable code. Neither the API nor the form runs a
 * check any other way.
 */

import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible"
import type { ConnectorDefinition } from "../../core/definition.ts"
import type { InvalidInput } from "../../core/fields.ts"
import type { Catalog } from "../catalog/catalog.ts"
import type { CheckResult } from "../check/check.ts"
import type { Metrics } from "../fleet/metrics.ts"
import { emit } from "../fleet/webhooks.ts"
import type { HttpEngine } from "../http/engine.ts"
import { type ConnectInput, type ConnectionView, connect, type RetestResult, retest } from "../vault/connections.ts"
import { ConnectionNotFound, type StoreError } from "../vault/errors.ts"
import type { Keyring } from "../vault/sealing.ts"
import { type ConnectionRecord, Store } from "../vault/store.ts"
import { type ConnectionEvent, type EventType, firstEvent, type ServiceState } from "./state.ts"

export interface Limits {
  /** Save & tests per workspace per minute. */
  readonly checksPerWorkspacePerMinute: number
  /** Save & tests per connect session, over its life: the form is no oracle for guessing keys. */
  readonly checksPerSession: number
  /** How long a connect session lives. */
  readonly sessionLifetimeMs: number
}

export const DEFAULT_LIMITS: Limits = {
  checksPerWorkspacePerMinute: 60,
  checksPerSession: 10,
  sessionLifetimeMs: 30 * 60_000,
}

export interface KeywayServer {
  readonly state: ServiceState
  /** Prometheus metrics, served at /metrics. */
  readonly metrics?: Metrics | undefined
  readonly definitions: ReadonlyMap<string, ConnectorDefinition>
  readonly limits: Limits
  /** The fleet's queues, when `keyway serve` has Redis (KEYWAY_REDIS): schedules through the API. */
  readonly queues?: import("../fleet/queues.ts").Queues | undefined
  /** The server's own URL, for connect links. */
  readonly publicUrl: () => string
  /** Takes one check from the workspace's budget, and the session's when there is one; answers the wait when spent. */
  readonly takeCheck: (workspace: string, session?: string) => Effect.Effect<void, RateLimited>
}

export class KeywayServerTag extends Context.Tag("keyway/server/KeywayServer")<KeywayServerTag, KeywayServer>() {}

export class RateLimited extends Error {
  readonly _tag = "RateLimited"
  constructor(readonly retryAfterSeconds: number) {
    super("too many checks")
  }
}

/**
 * The check budgets. With a Redis store (`KEYWAY_STORE=redis://...`) they live in Redis, shared by
 * every server of a fleet, with an in-memory budget as insurance while Redis is unreachable; otherwise
 * in this process's memory. The Redis client is closed with the scope that opened it.
 */
export const makeLimiter = async (
  limits: Limits,
  redisUrl?: string,
): Promise<{ readonly take: KeywayServer["takeCheck"]; readonly close: () => Promise<void> }> => {
  const sessionSeconds = Math.ceil(limits.sessionLifetimeMs / 1000)
  let close = async () => {}
  let budget = (name: string, points: number, duration: number): RateLimiterAbstract =>
    new RateLimiterMemory({ keyPrefix: name, points, duration })
  if (redisUrl) {
    // The Redis client loads only for a server whose store is Redis.
    const { createClient } = await import("@redis/client")
    const client = createClient({
      url: redisUrl,
      socket: { reconnectStrategy: (retries) => Math.min(retries * 100, 2000) },
    })
    client.on("error", () => {
      // Each refused call reports itself; the insurance budget answers meanwhile.
    })
    const connected = client.connect().catch(() => undefined)
    close = async () => {
      await connected
      await client.close().catch(() => undefined)
    }
    budget = (name, points, duration) =>
      new RateLimiterRedis({
        storeClient: client,
        useRedisPackage: true,
        keyPrefix: `keyway-limit-${name}`,
        points,
        duration,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points, duration }),
      })
  }
  const perWorkspace = budget("workspace", limits.checksPerWorkspacePerMinute, 60)
  const perSession = budget("session", limits.checksPerSession, sessionSeconds)
  const take = (limiter: RateLimiterAbstract, key: string) =>
    Effect.tryPromise({
      try: () => limiter.consume(key),
      catch: (refusal) =>
        new RateLimited(refusal instanceof RateLimiterRes ? Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) : 60),
    })
  return {
    take: (workspace, session) =>
      Effect.asVoid(Effect.zipRight(take(perWorkspace, workspace), session ? take(perSession, session) : Effect.void)),
    close,
  }
}

/** The services a check needs, besides the workspace's store. */
export type CheckServices = HttpEngine | Keyring | Catalog

const eventOf = (type: EventType, by: string, result?: CheckResult): ConnectionEvent => ({
  type,
  at: new Date().toISOString(),
  by,
  ...(result ? { code: result.verdict.code, message: result.verdict.message } : {}),
})

/** What a check's verdict says happened, for the audit log. */
const checkedType = (result: CheckResult): EventType =>
  result.verdict.outcome === "connected"
    ? "tested"
    : result.verdict.outcome === "expired_credentials"
      ? "expired"
      : "failed"

/** Save & test in a workspace: saved only when it passes; the audit log records it either way. */
export const saveAndTest = (
  server: Pick<KeywayServer, "state" | "metrics" | "queues">,
  workspace: string,
  definition: ConnectorDefinition,
  input: ConnectInput,
  by: string,
): Effect.Effect<
  { readonly result: CheckResult; readonly connection: ConnectionView | undefined },
  InvalidInput | import("../vault/errors.ts").StoreError,
  CheckServices
> =>
  Effect.gen(function* () {
    const outcome = yield* connect(definition, input, {
      // The record and its "created" event in one write: a connection is never without its history.
      alongside: ({ connection, result }) => firstEvent(connection.id, eventOf("created", by, result)),
    }).pipe(Effect.provideService(Store, server.state.storeFor(workspace)))
    server.metrics?.checked(outcome.result)
    if (outcome.connection) {
      const connection = outcome.connection
      const queues = server.queues
      if (queues) {
        // A host that listens for webhooks learns of the connection too; a delivery problem never fails the save.
        yield* Effect.promise(() =>
          emit(queues, server.state, workspace, {
            type: "connection.created",
            timestamp: new Date().toISOString(),
            data: {
              workspace,
              connectionId: connection.id,
              connector: connection.connector,
              tags: connection.tags ?? {},
              endUser: connection.endUser ?? null,
              by,
            },
          }).catch(() => undefined),
        )
      }
    }
    return { result: outcome.result, connection: outcome.connection }
  })

/** Re-test, or replace with new credentials that must pass; the audit log records it. */
export const retestIn = (
  server: Pick<KeywayServer, "state" | "metrics">,
  workspace: string,
  id: string,
  credentials: Readonly<Record<string, string>> | undefined,
  expiresAt: string | undefined,
  by: string,
) =>
  Effect.gen(function* () {
    const store = server.state.storeFor(workspace)
    /**
     * Writes the event, with the record as `update` leaves it, in one write, and only if the connection
     * is still there: this runs under its log's lock, which DELETE takes too, so one removed while its
     * check was under way neither comes back with the credential its owner revoked nor gains events.
     */
    const recordIfStillThere = (event: ConnectionEvent, update: (current: ConnectionRecord) => ConnectionRecord) =>
      server.state.recordEventWith(workspace, id, event, (alongside) =>
        Effect.flatMap(
          store.get(id),
          (current): Effect.Effect<void, StoreError | ConnectionNotFound> =>
            current ? store.put(update(current), alongside) : Effect.fail(new ConnectionNotFound({ id })),
        ),
      )
    const done: RetestResult = yield* retest(
      id,
      credentials ? { credentials, ...(expiresAt ? { expiresAt } : {}) } : undefined,
      {
        // The updated record and its event in one write: a replaced credential always has its event.
        save: (record, { result, replaced }) =>
          recordIfStillThere(eventOf(replaced ? "replaced" : checkedType(result), by, result), () => record),
      },
    ).pipe(Effect.provideService(Store, store))
    server.metrics?.checked(done.result)
    if (credentials && !done.replaced) {
      // New credentials that failed change nothing of the record; only the log records the attempt.
      const type = checkedType(done.result)
      yield* recordIfStillThere(eventOf(type === "tested" ? "failed" : type, by, done.result), (current) => current)
    }
    return done
  })
