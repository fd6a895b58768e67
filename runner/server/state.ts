/**
 * What the service keeps beside the connections, in the same store: workspace API keys (only their
 * hashes), connect sessions (only their tokens' hashes), each connection's event history (an audit
 * log), and the answers given to `Idempotency-Key` requests.
 *
 * Keys and sessions live in a reserved workspace, `_keyway`, since a token must be looked up before
 * its workspace is known; events and idempotent answers live in the workspace they belong to.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { LockHeld, StoreError } from "../vault/errors.ts"
import { type ConnectionStore, DEFAULT_LEASE_MS, openStore, type StoreConfig } from "../vault/store.ts"

/** Reserved: user workspaces may not start with `_`. */
export const SERVICE_WORKSPACE = "_keyway"

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")
const token = (prefix: string): string => `${prefix}${randomBytes(24).toString("base64url")}`

export interface EndUser {
  readonly id: string
  readonly email?: string | undefined
  readonly displayName?: string | undefined
}

export interface SessionRecord {
  readonly workspace: string
  readonly endUser: EndUser
  readonly allowedConnectors?: ReadonlyArray<string>
  /** Non-secret settings to pre-fill, by connector: `{ activtrak: { region: "eu" } }`. */
  readonly defaults?: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly tags?: Readonly<Record<string, string>>
  /** The host page's origin: the only one the form talks to, and the only one that may frame it. */
  readonly allowedOrigin: string
  readonly returnUrl?: string
  /** A re-connect session replaces this connection's credentials. */
  readonly reconnect?: string
  readonly createdAt: string
  readonly expiresAt: string
  /** Set once a connection is made with it: a session works once. */
  readonly usedAt?: string
  /** The connection it made. */
  readonly connectionId?: string
}

export type EventType = "created" | "tested" | "failed" | "replaced" | "expired" | "removed" | "synced" | "sync_failed"

export interface ConnectionEvent {
  readonly type: EventType
  readonly at: string
  /** What did it: `api`, `form`, `cli`. */
  readonly by: string
  readonly code?: string
  readonly message?: string
}

export interface IdempotentAnswer {
  /** A hash of the request's method, path and body: the same key with another request is a conflict. */
  readonly request: string
  readonly status: number
  readonly body: unknown
  readonly at: string
}

export interface ServiceState {
  readonly storeFor: (workspace: string) => ConnectionStore
  readonly createWorkspaceKey: (workspace: string) => Effect.Effect<string, StoreError>
  /** The workspace a key belongs to, or undefined: compared by hash, in constant time. */
  readonly workspaceOfKey: (key: string) => Effect.Effect<string | undefined, StoreError>
  readonly createSession: (
    session: Omit<SessionRecord, "createdAt" | "expiresAt">,
    lifetimeMs: number,
    nowMs: number,
  ) => Effect.Effect<{ readonly token: string; readonly session: SessionRecord }, StoreError>
  readonly session: (token: string) => Effect.Effect<SessionRecord | undefined, StoreError>
  /** Marks a session used by `connectionId`; fails when another request used it first. */
  readonly consumeSession: <A, E, R>(
    token: string,
    use: (session: SessionRecord) => Effect.Effect<{ readonly value: A; readonly connectionId?: string }, E, R>,
    nowMs: number,
  ) => Effect.Effect<A, E | StoreError | LockHeld | SessionUsed, R>
  readonly recordEvent: (
    workspace: string,
    connectionId: string,
    event: ConnectionEvent,
  ) => Effect.Effect<void, StoreError | LockHeld>
  /**
   * The same, in one write with what `write` writes: it is given the log with the event appended, as
   * state to write beside a record (`ConnectionStore.put`'s `alongside`).
   */
  readonly recordEventWith: <E>(
    workspace: string,
    connectionId: string,
    event: ConnectionEvent,
    write: (alongside: Readonly<Record<string, unknown>>) => Effect.Effect<void, E>,
  ) => Effect.Effect<void, E | StoreError | LockHeld>
  readonly events: (
    workspace: string,
    connectionId: string,
  ) => Effect.Effect<ReadonlyArray<ConnectionEvent>, StoreError>
  readonly idempotent: (workspace: string, key: string) => Effect.Effect<IdempotentAnswer | undefined, StoreError>
  readonly rememberAnswer: (workspace: string, key: string, answer: IdempotentAnswer) => Effect.Effect<void, StoreError>
}

export class SessionUsed extends Error {
  readonly _tag = "SessionUsed"
}

/** Events kept per connection; the oldest go first past this. */
const MAX_EVENTS = 500
/**
 * Another process appends to the same log: its turn takes a few store round trips. Waited for past
 * the lock's lease, so a holder killed on another machine (whose lock ends with its lease) is outlasted.
 */
const whileTheLogIsBusy = (leaseMs: number) =>
  Schedule.exponential("2 millis").pipe(
    Schedule.either(Schedule.spaced("100 millis")),
    Schedule.jittered,
    Schedule.upTo(Duration.millis(leaseMs + 5_000)),
  )

const eventsKey = (connectionId: string): string => `events:${connectionId}`

/** A new connection's history, its first event, as state to write in the same write as its record. */
export const firstEvent = (connectionId: string, event: ConnectionEvent): Readonly<Record<string, unknown>> => ({
  [eventsKey(connectionId)]: [event],
})

/** The service's state over the store that `config` names (its `workspace` is ignored), for the scope. */
export const openServiceState = (config: StoreConfig): Effect.Effect<ServiceState, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const stores = new Map<string, ConnectionStore>()
    const logBusy = whileTheLogIsBusy(config.lockLeaseMs ?? DEFAULT_LEASE_MS)
    const storeFor = (workspace: string): ConnectionStore => {
      let store = stores.get(workspace)
      if (!store) {
        // Stores open on first use and close with the service's scope.
        store = Effect.runSync(Scope.extend(openStore({ ...config, workspace }), scope))
        stores.set(workspace, store)
      }
      return store
    }
    const service = storeFor(SERVICE_WORKSPACE)
    const recordEventWith = <E>(
      workspace: string,
      connectionId: string,
      event: ConnectionEvent,
      write: (alongside: Readonly<Record<string, unknown>>) => Effect.Effect<void, E>,
    ): Effect.Effect<void, E | StoreError | LockHeld> => {
      const store = storeFor(workspace)
      const key = eventsKey(connectionId)
      const append = Effect.gen(function* () {
        const events = (yield* store.getState<ConnectionEvent[]>(key)) ?? []
        yield* write({ [key]: [...events, event].slice(-MAX_EVENTS) })
      })
      // Read, append and write as one, under the store-wide lock of this connection's log: two
      // servers, or a server and a worker, recording at once would each write over the other's event.
      // (A lease lost mid-append, the store away longer than the lease, is retried too: the event
      // may then be written twice, never lost.)
      return Effect.retry(store.withLock(`events:${workspace}:${connectionId}`, append), {
        schedule: logBusy,
        while: (error) => (error as { _tag?: unknown })?._tag === "LockHeld",
      })
    }
    // A key is looked up on every request; keys are never reassigned, so an answer can be kept.
    const keyOwners = new Map<string, string>()

    return {
      storeFor,
      createWorkspaceKey: (workspace) =>
        Effect.gen(function* () {
          const key = token("kw_")
          yield* service.putState(`workspace-key:${sha256(key)}`, { workspace, createdAt: new Date().toISOString() })
          return key
        }),
      workspaceOfKey: (key) => {
        const hash = sha256(key)
        const known = keyOwners.get(hash)
        if (known) return Effect.succeed(known)
        return Effect.map(service.getState<{ workspace: string }>(`workspace-key:${hash}`), (found) => {
          if (found && keyOwners.size < 10_000) keyOwners.set(hash, found.workspace)
          return found?.workspace
        })
      },
      createSession: (session, lifetimeMs, nowMs) =>
        Effect.gen(function* () {
          const value = token("kws_")
          const record: SessionRecord = {
            ...session,
            createdAt: new Date(nowMs).toISOString(),
            expiresAt: new Date(nowMs + lifetimeMs).toISOString(),
          }
          yield* service.putState(`session:${sha256(value)}`, record)
          return { token: value, session: record }
        }),
      session: (value) => service.getState<SessionRecord>(`session:${sha256(value)}`),
      consumeSession: (value, use, nowMs) => {
        const key = `session:${sha256(value)}`
        return service.withLock(
          key,
          Effect.gen(function* () {
            const current = yield* service.getState<SessionRecord>(key)
            if (!current || current.usedAt) return yield* Effect.fail(new SessionUsed("this connect session was used"))
            const { value: result, connectionId } = yield* use(current)
            if (connectionId) {
              yield* service.putState(key, { ...current, usedAt: new Date(nowMs).toISOString(), connectionId })
            }
            return result
          }),
        )
      },
      recordEvent: (workspace, connectionId, event) =>
        recordEventWith(workspace, connectionId, event, (alongside) => {
          const key = eventsKey(connectionId)
          return storeFor(workspace).putState(key, alongside[key])
        }),
      recordEventWith,
      events: (workspace, connectionId) =>
        Effect.map(storeFor(workspace).getState<ConnectionEvent[]>(eventsKey(connectionId)), (events) => events ?? []),
      idempotent: (workspace, key) => storeFor(workspace).getState<IdempotentAnswer>(`idempotency:${sha256(key)}`),
      rememberAnswer: (workspace, key, answer) => storeFor(workspace).putState(`idempotency:${sha256(key)}`, answer),
    }
  })

/** Compares two secrets' hashes in constant time. */
export const sameSecret = (a: string, b: string): boolean =>
  timingSafeEqual(Buffer.from(sha256(a), "hex"), Buffer.from(sha256(b), "hex"))

export const requestHash = (method: string, path: string, body: unknown): string =>
  sha256(`${method} ${path} ${JSON.stringify(body ?? null)}`)
