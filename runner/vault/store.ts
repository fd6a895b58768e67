/**
 * The credential store: connection records in keyv, one namespace per workspace (tenant). The
 * embedded default is SQLite in `KEYWAY_HOME` (default `~/.keyway`); `KEYWAY_STORE=redis://...`
 * selects a shared Redis, set to fail fast so a dead Redis is a clear error, not a hang.
 *
 * A record is written with one `set`: a single SQL upsert or a single Redis SET, so a write is
 * atomic per record; a record with state beside it (its audit event) is one multi-row upsert or one
 * Redis MULTI. Credentials in a record are sealed (`sealing.ts`) before they reach keyv.
 */

import { randomBytes } from "node:crypto"
import { chmodSync, closeSync, constants, openSync } from "node:fs"
import { homedir, hostname } from "node:os"
import { join } from "node:path"
import type { RedisClientOptions } from "@keyv/redis"
import { defaultDeserialize } from "@keyv/serialize"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import Keyv from "keyv"
import type { Verdict } from "../../core/outcomes.ts"
import { LockHeld, RecordUnreadable, type StoreError, StoreMisconfigured, StoreUnavailable } from "./errors.ts"
import { ensureHome, refuseLink } from "./home.ts"
import type { Sealed } from "./sealing.ts"

export interface ConnectionRecord {
  readonly v: 1
  readonly id: string
  readonly workspace: string
  readonly connector: string
  readonly label: string
  readonly settings: Readonly<Record<string, string>>
  readonly credentials: Sealed
  readonly fingerprints: Readonly<Record<string, string>>
  readonly createdAt: string
  readonly updatedAt: string
  /** The last check of these credentials: when, what ran it (`save & test`, `re-test`, `sync`), and its verdict. */
  readonly lastTest: { readonly at: string; readonly by: string; readonly verdict: Verdict } | undefined
  readonly expiresAt: string | undefined
  /** `estimated` when `expiresAt` was counted from the vendor's default lifetime; absent when given. */
  readonly expirySource?: "given" | "estimated"
  /** A host application's tags (from a connect session), returned with the connection. */
  readonly tags?: Readonly<Record<string, string>>
  /** The host application's user the connection is for. */
  readonly endUser?: {
    readonly id: string
    readonly email?: string | undefined
    readonly displayName?: string | undefined
  }
}

export interface ConnectionStore {
  readonly backend: "sqlite" | "redis" | "postgres"
  readonly workspace: string
  /** Sync checkpoints live beside the records, under keys that start with `sync:`. */
  readonly getState: <S>(key: string) => Effect.Effect<S | undefined, StoreError>
  readonly putState: <S>(key: string, state: S) => Effect.Effect<void, StoreError>
  readonly get: (id: string) => Effect.Effect<ConnectionRecord | undefined, StoreError>
  /**
   * Writes the record, and with it any `alongside` state (keys as `putState`'s), in one atomic write:
   * one SQL statement or one Redis MULTI, so a process killed mid-save leaves both or neither.
   */
  readonly put: (
    record: ConnectionRecord,
    alongside?: Readonly<Record<string, unknown>>,
  ) => Effect.Effect<void, StoreError>
  /**
   * Removes the record; false when it was not there. With `alongside` state (keys as `putState`'s),
   * the state is written in the same atomic write, and only when the record was there: one SQLite
   * transaction, one PostgreSQL statement or one Redis script, so a removal and its audit event
   * happen together or not at all.
   */
  readonly remove: (id: string, alongside?: Readonly<Record<string, unknown>>) => Effect.Effect<boolean, StoreError>
  /** The workspace's records, oldest first; damaged ones are named in `unreadable`, not left out silently. */
  readonly list: () => Effect.Effect<Listing, StoreError>
  /** Every workspace with anything in this store (the same SQLite file, or the same Redis). */
  readonly workspaces: () => Effect.Effect<ReadonlyArray<string>, StoreError>
  /**
   * Runs `effect` holding the store-wide lock `name`, which no other process holds at the same time;
   * fails at once with `LockHeld` when another does. A lock whose holder died (kill -9) is taken over:
   * on SQLite at once, when the holder's process is gone; on Redis when its lease runs out.
   */
  readonly withLock: <A, E, R>(
    name: string,
    effect: Effect.Effect<A, E, R>,
  ) => Effect.Effect<A, E | StoreError | LockHeld, R>
}

/** Where a record sits in a listing: by creation time, then id, so that two made in one millisecond keep one order. */
export type Listed = Pick<ConnectionRecord, "createdAt" | "id">

/** The listing's order, in code units (not the locale's): the same on every backend and every call. */
export const compareListed = (a: Listed, b: Listed): number =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0

export interface Listing {
  readonly records: ReadonlyArray<ConnectionRecord>
  readonly unreadable: ReadonlyArray<{ readonly id: string; readonly problem: string }>
}

/** The connection store of one workspace, as a service. */
export class Store extends Context.Tag("keyway/Store")<Store, ConnectionStore>() {}

export interface StoreConfig {
  /** `KEYWAY_HOME`: where the SQLite file and key files live. */
  readonly home: string
  /** `KEYWAY_STORE`: a `redis://` URL, or undefined for SQLite. */
  readonly url: string | undefined
  readonly workspace: string
  /** How long a Redis connection may take before the store reports itself unavailable. */
  readonly connectTimeoutMs?: number
  /** A server store's lock lease (15 s unless set), renewed every third of it while held. */
  readonly lockLeaseMs?: number
}

export const storeConfigFromEnv = (env: NodeJS.ProcessEnv = process.env, workspace?: string): StoreConfig => ({
  home: env.KEYWAY_HOME ?? join(homedir(), ".keyway"),
  url: env.KEYWAY_STORE,
  workspace: workspace ?? env.KEYWAY_WORKSPACE ?? "default",
})

const describe = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  // Driver errors can quote connection strings; never echo a password in one.
  return text.replace(/\/\/[^@\s/]*@/g, "//***@").slice(0, 200)
}

/** What is wrong with a stored value as a connection record, or undefined when it is one. */
const recordProblem = (value: unknown): string | undefined => {
  if (typeof value !== "object" || value === null) return "it is not a record"
  const record = value as Record<string, unknown>
  for (const field of ["id", "workspace", "connector", "label", "createdAt"]) {
    if (typeof record[field] !== "string") return `${field} is missing`
  }
  const sealed = record.credentials as Record<string, unknown> | null | undefined
  if (
    !sealed ||
    typeof sealed !== "object" ||
    !["kid", "iv", "tag", "data"].every((f) => typeof sealed[f] === "string")
  ) {
    return "its sealed credentials are missing"
  }
  for (const field of ["settings", "fingerprints"]) {
    if (typeof record[field] !== "object" || record[field] === null) return `${field} is missing`
  }
  return undefined
}

/**
 * The store for the length of the scope. It connects on first use, not before, so a command that
 * never touches it never opens it; a connection that failed is tried again by the next call; and it
 * is closed when the scope ends.
 */
export const openStore = (config: StoreConfig): Effect.Effect<ConnectionStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    let opening: Promise<Opened> | undefined
    const open = () => {
      opening ??= connectKeyv(config).catch((error: unknown) => {
        opening = undefined
        throw error
      })
      return opening
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        const opened = await opening?.catch(() => undefined)
        await opened?.keyv.disconnect().catch(() => undefined)
      }),
    )
    return storeOver(
      open,
      isRedisUrl(config.url) ? "redis" : isPostgresUrl(config.url) ? "postgres" : "sqlite",
      config.workspace,
      yield* Effect.scope,
    )
  })

export const storeLayer = (config: StoreConfig): Layer.Layer<Store> => Layer.scoped(Store, openStore(config))

const isPostgresUrl = (url: string | undefined): boolean =>
  url?.startsWith("postgres://") === true || url?.startsWith("postgresql://") === true

const isRedisUrl = (url: string | undefined): boolean =>
  url?.startsWith("redis://") === true || url?.startsWith("rediss://") === true

/**
 * The SQLite file, created owner-only if it is not there. O_EXCL makes creating it safe when several
 * processes start at once: exactly one creates it, and no one truncates a database another just made.
 */
const ensureSqliteFile = (file: string): void => {
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    refuseLink(path, path.replace(/^.*\//, ""), (detail) => new StoreMisconfigured({ detail }))
  }
  try {
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  }
  chmodSync(file, 0o600)
}

/** What a store needs beneath keyv: its workspaces, and an atomic lock. */
interface Raw {
  readonly workspaces: () => Promise<ReadonlyArray<string>>
  /**
   * Every record of a namespace, as its key (without the namespace) and its stored text, unparsed.
   * The state beside the records is left out, and so is every other namespace: matched by exact
   * prefix, never by LIKE, which takes "_" for any character (and on SQLite ignores case), so that
   * workspace "a_b" once listed the records of "a-b", and "Acme" those of "acme".
   */
  readonly records: (namespace: string) => Promise<ReadonlyArray<readonly [string, string]>>
  /** Takes the lock for `owner`, or answers who holds it. */
  readonly acquire: (
    name: string,
    owner: string,
  ) => Promise<{ readonly held: true } | { readonly held: false; readonly holder: string }>
  readonly release: (name: string, owner: string) => Promise<void>
  /** Extends a held lock's lease; false when `owner` no longer holds it. */
  readonly renew: (name: string, owner: string) => Promise<boolean>
  /** How often a held lock is renewed: a third of its lease. */
  readonly renewEveryMs: number
  /**
   * Removes `key` and, only if it was there, writes each of `entries` (keys and serialized values as
   * keyv's, both without the namespace), as one atomic change. False when `key` was not there.
   */
  readonly removeWith: (
    namespace: string,
    key: string,
    entries: ReadonlyArray<{ readonly key: string; readonly value: string }>,
  ) => Promise<boolean>
}

interface Opened {
  readonly keyv: Keyv
  readonly backend: "sqlite" | "redis" | "postgres"
  readonly raw: Raw
}

/** What a workspace may be called: no colon, so its namespace ends at the first one. */
const WORKSPACE_NAME = /^[A-Za-z0-9_-]{1,64}$/

const workspaceOf = (namespace: string): string => namespace.replace(/^keyway-/, "")

/**
 * The workspaces among `namespaces`. Other keys share the store (the fleet's pace keys on Redis, the
 * locks), and a name no store can be opened under would stop every sweep that opens each in turn.
 */
const workspacesIn = (namespaces: Iterable<string>): ReadonlyArray<string> =>
  [...new Set([...namespaces].map(workspaceOf))].filter((name) => WORKSPACE_NAME.test(name))

/** Where state (sync checkpoints, audit events, idempotent answers) lives beside the records. */
const STATE_PREFIX = "sync:"
const stateKey = (key: string): string => `${STATE_PREFIX}${key}`

/**
 * The keys that start with `prefix`, as a range of a binary-ordered key (SQLite's, by default):
 * from `prefix` up to, not including, `prefix` with its last character the next one.
 */
const prefixRange = (prefix: string): readonly [string, string] => [
  prefix,
  `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`,
]

/** The rows of `namespace` as `records` answers them: the key without the namespace. */
const withoutNamespace = (namespace: string, rows: ReadonlyArray<Record<string, unknown>>) =>
  rows.map((row) => [String(row.key).slice(namespace.length + 1), String(row.value)] as const)

/**
 * A lock's owner names its process and machine, so a holder killed on this machine is seen at once
 * (its process is gone) and need not wait out its lease: `<pid>@<host>#<random>`.
 */
const newOwner = (): string => `${process.pid}@${hostname()}#${randomBytes(6).toString("hex")}`

const ownerProcess = (owner: string): { readonly pid: number; readonly host: string } | undefined => {
  const parsed = /^(\d+)@(.*)#[0-9a-f]+$/.exec(owner)
  return parsed ? { pid: Number(parsed[1]), host: parsed[2] as string } : undefined
}

/** The owner's process ran on this machine and is gone: its lock is stale, whatever its lease says. */
const killedHere = (owner: string): boolean => {
  const holder = ownerProcess(owner)
  return holder !== undefined && holder.host === hostname() && !alive(holder.pid)
}

const describeOwner = (owner: string | undefined, leaseMs: number): string => {
  const holder = owner ? ownerProcess(owner) : undefined
  return holder
    ? `process ${holder.pid} on ${holder.host}; if it was killed, its lease ends within ${Math.ceil(leaseMs / 1000)} s`
    : "another process"
}

/** The process still runs (on this machine): its lock is not stale. */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

type Query = (sql: string, ...parameters: unknown[]) => Promise<ReadonlyArray<Record<string, unknown>>>

/**
 * Who may use a SQLite file in this process: every store on it (one per workspace, each with its own
 * connection) shares its file's gate. A transaction has the file alone, once the queries under way on
 * any of them have ended: a query of the process landing between its BEGIN and COMMIT would join it,
 * or, on another connection, wait for its write lock in SQLite's busy wait on a thread of Node's pool.
 * With four such waits every thread was taken, and the transaction had none to finish on for the
 * whole busy timeout. Only the transaction's own statements run inside it: a `shared` query from
 * within `work` would wait for the transaction to end.
 */
interface SqliteGate {
  running: number
  drained: (() => void) | undefined
  /** Set while a transaction has the file. */
  held: Promise<void> | undefined
  /** Transactions, one at a time. */
  turns: Promise<unknown>
}

const sqliteGates = new Map<string, SqliteGate>()

const sqliteConnection = (query: Query, file: string) => {
  const gate = sqliteGates.get(file) ?? { running: 0, drained: undefined, held: undefined, turns: Promise.resolve() }
  sqliteGates.set(file, gate)
  const shared: Query = async (sql, ...parameters) => {
    while (gate.held) await gate.held
    gate.running++
    try {
      return await query(sql, ...parameters)
    } finally {
      gate.running--
      if (gate.running === 0) gate.drained?.()
    }
  }
  /** Runs `work` between BEGIN IMMEDIATE and COMMIT; a failure, or `work` answering false, rolls back. */
  const transaction = (work: (query: Query) => Promise<boolean>): Promise<boolean> => {
    const turn = gate.turns.then(async () => {
      let release = () => {}
      gate.held = new Promise<void>((resolve) => {
        release = resolve
      })
      try {
        while (gate.running > 0) await new Promise<void>((resolve) => (gate.drained = resolve))
        gate.drained = undefined
        await query("BEGIN IMMEDIATE")
        let keep = false
        try {
          keep = await work(query)
        } finally {
          await query(keep ? "COMMIT" : "ROLLBACK").catch(async (error: unknown) => {
            // A COMMIT refused leaves the transaction open: end it before anything else uses the connection.
            if (keep) await query("ROLLBACK").catch(() => undefined)
            throw error
          })
        }
        return keep
      } finally {
        gate.held = undefined
        release()
      }
    })
    gate.turns = turn.catch(() => undefined)
    return turn
  }
  return { shared, transaction }
}

const sqliteRaw = ({ shared: query, transaction }: ReturnType<typeof sqliteConnection>): Raw => {
  const table = query(
    "CREATE TABLE IF NOT EXISTS keyway_locks(name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, at INTEGER NOT NULL)",
  )
  const holderOf = async (name: string) =>
    (await query("SELECT owner, pid, host FROM keyway_locks WHERE name = ?", name))[0] as
      | { owner: string; pid: number; host: string }
      | undefined
  return {
    records: async (namespace) => {
      // Ranges of the primary key, so the index finds them.
      const [from, to] = prefixRange(`${namespace}:`)
      const [stateFrom, stateTo] = prefixRange(`${namespace}:${STATE_PREFIX}`)
      return withoutNamespace(
        namespace,
        await query(
          "SELECT key, value FROM keyv WHERE key >= ? AND key < ? AND (key < ? OR key >= ?)",
          from,
          to,
          stateFrom,
          stateTo,
        ),
      )
    },
    workspaces: async () =>
      workspacesIn(
        (
          await query(
            "SELECT DISTINCT substr(key, 1, instr(key, ':') - 1) AS namespace FROM keyv WHERE key LIKE 'keyway-%:%'",
          )
        ).map((row) => String(row.namespace)),
      ),
    acquire: async (name, owner) => {
      await table
      await query(
        "INSERT OR IGNORE INTO keyway_locks(name, owner, pid, host, at) VALUES (?, ?, ?, ?, ?)",
        name,
        owner,
        process.pid,
        hostname(),
        Date.now(),
      )
      const holder = await holderOf(name)
      if (holder?.owner === owner) return { held: true }
      if (holder && holder.host === hostname() && !alive(holder.pid)) {
        // Its holder was killed: take it over, but only if no one else took it first (compare and swap).
        await query(
          "UPDATE keyway_locks SET owner = ?, pid = ?, at = ? WHERE name = ? AND owner = ?",
          owner,
          process.pid,
          Date.now(),
          name,
          holder.owner,
        )
        if ((await holderOf(name))?.owner === owner) return { held: true }
      }
      const now = await holderOf(name)
      return { held: false, holder: now ? `process ${now.pid} on ${now.host}` : "another process" }
    },
    release: async (name, owner) => {
      await query("DELETE FROM keyway_locks WHERE name = ? AND owner = ?", name, owner)
    },
    // A SQLite lock has no lease: it lasts while its holder's process does. Renewing only checks it.
    renew: async (name, owner) => (await holderOf(name))?.owner === owner,
    renewEveryMs: DEFAULT_LEASE_MS / 3,
    removeWith: (namespace, key, entries) =>
      transaction(async (alone) => {
        const removed = await alone("DELETE FROM keyv WHERE key = ? RETURNING key", `${namespace}:${key}`)
        if (removed.length === 0) return false
        for (const entry of entries) {
          await alone(
            "INSERT INTO keyv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            `${namespace}:${entry.key}`,
            entry.value,
          )
        }
        return true
      }),
  }
}

/**
 * PostgreSQL: keyv's own table for records, and a lock table whose rows are leases, as Redis's are:
 * a killed holder's lock ends by itself when its lease runs out. Taking a lock is one statement, so
 * two processes can never both take it.
 */
const postgresRaw = (query: Query, leaseMs: number): Raw => {
  // Made on the first lock, not before: a server that is down answers the call that needs it.
  let created: Promise<unknown> | undefined
  const table = () => {
    created ??= query(
      "CREATE TABLE IF NOT EXISTS keyway_locks(name TEXT PRIMARY KEY, owner TEXT NOT NULL, holder TEXT NOT NULL, expires BIGINT NOT NULL)",
    ).catch((error: unknown) => {
      // Made by another store at the same moment: IF NOT EXISTS does not stop PostgreSQL refusing the
      // second of two at once, as a unique violation (23505), the table already there (42P07) or its
      // row type already there (42710), as the race falls.
      const code = (error as { code?: unknown })?.code
      if (code === "23505" || code === "42P07" || code === "42710") return
      created = undefined
      throw error
    })
    return created
  }
  return {
    // starts_with, not a range: under the database's collation, text ranges need not follow bytes.
    records: async (namespace) =>
      withoutNamespace(
        namespace,
        await query(
          "SELECT key, value FROM keyv WHERE starts_with(key, $1) AND NOT starts_with(key, $2)",
          `${namespace}:`,
          `${namespace}:${STATE_PREFIX}`,
        ),
      ),
    workspaces: async () =>
      workspacesIn(
        (await query("SELECT DISTINCT split_part(key, ':', 1) AS namespace FROM keyv WHERE key LIKE 'keyway-%:%'")).map(
          (row) => String(row.namespace),
        ),
      ),
    acquire: async (name, owner) => {
      await table()
      const now = Date.now()
      const taken = await query(
        `INSERT INTO keyway_locks(name, owner, holder, expires) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, holder = EXCLUDED.holder, expires = EXCLUDED.expires
         WHERE keyway_locks.expires < $5 RETURNING owner`,
        name,
        owner,
        owner,
        now + leaseMs,
        now,
      )
      if (taken[0]?.owner === owner) return { held: true }
      const holder = (await query("SELECT owner FROM keyway_locks WHERE name = $1", name))[0]?.owner as
        | string
        | undefined
      if (holder && killedHere(holder)) {
        // Its holder was killed on this machine: take it over, unless someone else did first.
        const over = await query(
          "UPDATE keyway_locks SET owner = $1, holder = $1, expires = $2 WHERE name = $3 AND owner = $4 RETURNING owner",
          owner,
          Date.now() + leaseMs,
          name,
          holder,
        )
        if (over[0]?.owner === owner) return { held: true }
      }
      return { held: false, holder: describeOwner(holder, leaseMs) }
    },
    release: async (name, owner) => {
      await query("DELETE FROM keyway_locks WHERE name = $1 AND owner = $2", name, owner)
    },
    renew: async (name, owner) =>
      (
        await query(
          "UPDATE keyway_locks SET expires = $1 WHERE name = $2 AND owner = $3 RETURNING owner",
          Date.now() + leaseMs,
          name,
          owner,
        )
      ).length === 1,
    renewEveryMs: leaseMs / 3,
    // One statement: a data-modifying WITH runs its DELETE and INSERT together, or neither.
    removeWith: async (namespace, key, entries) =>
      Number(
        (
          await query(
            `WITH removed AS (DELETE FROM keyv WHERE key = $1 RETURNING key),
             written AS (
               INSERT INTO keyv (key, value)
               SELECT entry.key, entry.value FROM unnest($2::text[], $3::text[]) AS entry(key, value)
               WHERE EXISTS (SELECT 1 FROM removed)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value
               RETURNING key
             )
             SELECT count(*)::int AS removed FROM removed`,
            `${namespace}:${key}`,
            entries.map((entry) => `${namespace}:${entry.key}`),
            entries.map((entry) => entry.value),
          )
        )[0]?.removed,
      ) === 1,
  }
}

/**
 * A lock on a server store (Redis, PostgreSQL) is a lease, renewed while its holder runs
 * (every third of the lease), so a holder killed on another machine frees it within the lease; one killed on
 * this machine frees it at once.
 */
export const DEFAULT_LEASE_MS = 15_000

/**
 * Removes KEYS[1] and, only if it was there, sets KEYS[2..] to ARGV[1..]: one script, which Redis runs
 * whole, with no other command between its steps. Redis rolls nothing back, so what it could refuse
 * is asked first: every write's permission, then the SETs (which a full memory refuses) before the DEL.
 */
const REDIS_REMOVE_WITH = `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if redis.acl_check_cmd then
  if not redis.acl_check_cmd('del', KEYS[1]) then return redis.error_reply('NOPERM this user may not run DEL') end
  for i = 2, #KEYS do
    if not redis.acl_check_cmd('set', KEYS[i], ARGV[i - 1]) then return redis.error_reply('NOPERM this user may not run SET') end
  end
end
for i = 2, #KEYS do redis.call('set', KEYS[i], ARGV[i - 1]) end
redis.call('del', KEYS[1])
return 1`

/** Sets the lock to ARGV[2] only if ARGV[1] still holds it: a take-over or a renewal, never a theft. */
const REDIS_SWAP =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return false"

const redisRaw = (
  client: {
    get: (key: string) => Promise<string | null>
    set: (key: string, value: string, options: { NX: true; PX: number }) => Promise<unknown>
    eval: (script: string, options: { keys: string[]; arguments: string[] }) => Promise<unknown>
    scanIterator: (options: { MATCH: string; COUNT: number }) => AsyncIterable<string | string[]>
    mGet: (keys: string[]) => Promise<Array<string | null>>
  },
  leaseMs: number,
): Raw => ({
  records: async (namespace) => {
    // A namespace holds only letters, digits, - and _, none of which a MATCH pattern reads as a wildcard.
    const prefix = `${namespace}::${namespace}:`
    const found: Array<readonly [string, string]> = []
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      const keys = (Array.isArray(batch) ? batch : [batch]).filter((key) => !key.startsWith(`${prefix}${STATE_PREFIX}`))
      if (keys.length === 0) continue
      // One MGET a batch: a GET a key was a round trip per connection, on every listing.
      const values = await client.mGet(keys)
      keys.forEach((key, index) => {
        const value = values[index]
        if (value !== null && value !== undefined) found.push([key.slice(prefix.length), value] as const)
      })
    }
    return found
  },
  workspaces: async () => {
    // @keyv/redis writes a record as "<namespace>::<namespace>:<id>". The fleet's pace keys embed a
    // vendor's base URL, which may hold "::" too: only a key that repeats its namespace is a record's.
    const namespaces: string[] = []
    for await (const batch of client.scanIterator({ MATCH: "keyway-*::keyway-*", COUNT: 1000 })) {
      for (const key of Array.isArray(batch) ? batch : [batch]) {
        const namespace = key.slice(0, key.indexOf("::"))
        if (key.startsWith(`${namespace}::${namespace}:`)) namespaces.push(namespace)
      }
    }
    return workspacesIn(namespaces)
  },
  acquire: async (name, owner) => {
    const key = `keyway-locks::${name}`
    if ((await client.set(key, owner, { NX: true, PX: leaseMs })) === "OK") return { held: true }
    const holder = (await client.get(key)) ?? undefined
    if (holder && killedHere(holder)) {
      // Its holder was killed on this machine: take it over, unless someone else did first.
      const over = await client.eval(REDIS_SWAP, { keys: [key], arguments: [holder, owner, String(leaseMs)] })
      if (over === "OK") return { held: true }
    }
    return { held: false, holder: describeOwner(holder, leaseMs) }
  },
  release: async (name, owner) => {
    await client.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0", {
      keys: [`keyway-locks::${name}`],
      arguments: [owner],
    })
  },
  renew: async (name, owner) =>
    (await client.eval(REDIS_SWAP, {
      keys: [`keyway-locks::${name}`],
      arguments: [owner, owner, String(leaseMs)],
    })) === "OK",
  renewEveryMs: leaseMs / 3,
  removeWith: async (namespace, key, entries) => {
    // Keys as @keyv/redis writes them: "<namespace>::<namespace>:<key>".
    const full = (name: string) => `${namespace}::${namespace}:${name}`
    const removed = await client.eval(REDIS_REMOVE_WITH, {
      keys: [full(key), ...entries.map((entry) => full(entry.key))],
      arguments: entries.map((entry) => entry.value),
    })
    return removed === 1
  },
})

const connectKeyv = async (config: StoreConfig): Promise<Opened> => {
  if (!WORKSPACE_NAME.test(config.workspace)) {
    throw new StoreMisconfigured({ detail: "a workspace name is 1 to 64 letters, digits, - or _" })
  }
  // No colon in the namespace: keyv strips a key's prefix up to the first colon when listing.
  const namespace = `keyway-${config.workspace}`
  let keyv: Keyv
  let backend: "sqlite" | "redis" | "postgres"
  let raw: Raw
  const leaseMs = config.lockLeaseMs ?? DEFAULT_LEASE_MS
  if (config.url !== undefined && isRedisUrl(config.url)) {
    backend = "redis"
    const timeout = config.connectTimeoutMs ?? 2000
    // Drivers load when a store opens, not when this module does.
    const { default: KeyvRedis } = await import("@keyv/redis")
    const client: RedisClientOptions = {
      url: config.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: timeout, reconnectStrategy: (retries: number) => (retries > 3 ? false : 200) },
    }
    const adapter = new KeyvRedis(client, {
      throwOnConnectError: true,
      throwOnErrors: true,
      connectionTimeout: timeout,
    })
    keyv = new Keyv({ store: adapter, namespace, throwOnErrors: true })
    raw = redisRaw((await adapter.getClient()) as unknown as Parameters<typeof redisRaw>[0], leaseMs)
  } else if (config.url !== undefined && isPostgresUrl(config.url)) {
    backend = "postgres"
    const { default: KeyvPostgres } = await import("@keyv/postgres")
    const adapter = new KeyvPostgres({
      uri: config.url,
      connectionTimeoutMillis: config.connectTimeoutMs ?? 2000,
      max: 10,
    })
    keyv = new Keyv({ store: adapter, namespace, throwOnErrors: true })
    // Creates keyv's table now, so the first call that fails says why (the server is down).
    await adapter.connect()
    raw = postgresRaw((sql, ...parameters) => adapter.query(sql, parameters), leaseMs)
  } else if (config.url === undefined || config.url === "" || config.url === "sqlite") {
    backend = "sqlite"
    ensureHome(config.home, (detail) => new StoreMisconfigured({ detail }))
    const file = join(config.home, "keyway.sqlite")
    ensureSqliteFile(file)
    const { default: KeyvSqlite } = await import("@keyv/sqlite")
    // Several processes may open one file at once (twenty first uses of a fresh home): wait for a lock.
    const adapter = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 10_000 })
    // WAL with synchronous=NORMAL survives a crashed or killed process (what resume relies on) and
    // spares an fsync per write, which a checkpoint after every page would otherwise pay.
    await adapter.query("PRAGMA journal_mode=WAL")
    await adapter.query("PRAGMA synchronous=NORMAL")
    const connection = sqliteConnection(adapter.query, file)
    // keyv's own queries take their turn with the store's, so none lands inside a transaction.
    adapter.query = connection.shared as typeof adapter.query
    // @keyv/sqlite has no setMany, and keyv's stand-in writes each entry on its own: a record and
    // what is written with it (its audit event) must be one statement, as on Redis and PostgreSQL.
    Object.assign(adapter, {
      setMany: (entries: ReadonlyArray<{ readonly key: string; readonly value: unknown }>) =>
        adapter.query(
          `INSERT INTO ${adapter.opts.table} (key, value) VALUES ${entries.map(() => "(?, ?)").join(", ")}
           ON CONFLICT(key) DO UPDATE SET value=excluded.value`,
          ...entries.flatMap(({ key, value }) => [key, value]),
        ),
    })
    keyv = new Keyv({ store: adapter, namespace, throwOnErrors: true })
    raw = sqliteRaw(connection)
  } else {
    throw new StoreMisconfigured({
      detail: "KEYWAY_STORE must be a redis:// or postgres:// URL, or unset for SQLite",
    })
  }
  keyv.on("error", () => {
    // Errors surface through the rejected calls below (throwOnErrors); the event is not a second channel.
  })
  return { keyv, backend, raw }
}

/** A failure opening or using the store: the user's to fix, or the store's to come back. */
const asStoreError = (backend: "sqlite" | "redis" | "postgres", error: unknown): StoreError => {
  if (error instanceof StoreUnavailable || error instanceof StoreMisconfigured || error instanceof RecordUnreadable) {
    return error
  }
  // A file that is not a database is the user's to move away, not a store that will come back.
  const code = (error as { code?: unknown })?.code
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
    return new StoreMisconfigured({
      detail:
        "keyway.sqlite is not a Keyway store (it is not an SQLite database, or it is damaged); move it away to start a new one",
    })
  }
  return new StoreUnavailable({ backend, detail: describe(error) })
}

/** A failed release is tried again, soon at first, then every 5 s, for two minutes. */
const untilReleased = Schedule.exponential("100 millis").pipe(
  Schedule.either(Schedule.spaced("5 seconds")),
  Schedule.upTo(Duration.minutes(2)),
)

const storeOver = (
  open: () => Promise<Opened>,
  backend: "sqlite" | "redis" | "postgres",
  workspace: string,
  /** The store's own: what it leaves running in the background ends with it. */
  scope: Scope.Scope,
): ConnectionStore => {
  const namespace = `keyway-${workspace}`
  const attempt = <A>(run: (keyv: Keyv) => Promise<A>) =>
    Effect.tryPromise({
      try: () => open().then(({ keyv }) => run(keyv)),
      catch: (error) => asStoreError(backend, error),
    })

  return {
    backend,
    workspace,
    get: (id) =>
      Effect.flatMap(
        attempt((keyv) =>
          keyv.get<unknown>(id).then(
            (value) => ({ value }),
            // A value that is not JSON makes keyv throw: that record is damaged, the store is fine.
            (error: unknown) => (error instanceof SyntaxError ? { damaged: "it is not JSON" } : Promise.reject(error)),
          ),
        ),
        (read): Effect.Effect<ConnectionRecord | undefined, RecordUnreadable> => {
          if ("damaged" in read) return Effect.fail(new RecordUnreadable({ id, problem: read.damaged }))
          if (read.value === undefined) return Effect.succeed(undefined)
          const problem = recordProblem(read.value)
          return problem
            ? Effect.fail(new RecordUnreadable({ id, problem }))
            : Effect.succeed(read.value as ConnectionRecord)
        },
      ),
    getState: <S>(key: string) => attempt((keyv) => keyv.get<S>(stateKey(key))),
    putState: (key, state) =>
      attempt(async (keyv) => {
        await keyv.set(stateKey(key), state)
      }),
    put: (record, alongside) =>
      attempt(async (keyv) => {
        if (!alongside) {
          await keyv.set(record.id, record)
          return
        }
        await keyv.setMany([
          { key: record.id, value: record },
          ...Object.entries(alongside).map(([key, value]) => ({ key: stateKey(key), value })),
        ])
      }),
    remove: (id, alongside) =>
      Effect.tryPromise({
        try: async () => {
          const { keyv, raw } = await open()
          if (!alongside) return keyv.delete(id)
          const entries = await Promise.all(
            Object.entries(alongside).map(async ([key, value]) => ({
              key: stateKey(key),
              // Serialized as keyv serializes a value it sets, so keyv reads it back.
              value: String(await keyv.serializeData({ value, expires: undefined })),
            })),
          )
          return raw.removeWith(namespace, id, entries)
        },
        catch: (error) => asStoreError(backend, error),
      }),
    list: () =>
      Effect.tryPromise({
        try: async (): Promise<Listing> => {
          const records: ConnectionRecord[] = []
          const unreadable: Array<{ id: string; problem: string }> = []
          // Raw rows, each parsed on its own: one damaged record must not hide the others.
          for (const [id, serialized] of await (await open()).raw.records(namespace)) {
            let value: unknown
            try {
              value = (defaultDeserialize(serialized) as { value?: unknown })?.value
            } catch {
              unreadable.push({ id, problem: "it is not JSON" })
              continue
            }
            const problem = recordProblem(value)
            if (problem) unreadable.push({ id, problem })
            else records.push(value as ConnectionRecord)
          }
          return { records: records.sort(compareListed), unreadable }
        },
        catch: (error) => asStoreError(backend, error),
      }),
    workspaces: () =>
      Effect.tryPromise({
        try: () => open().then(({ raw }) => raw.workspaces()),
        catch: (error) => asStoreError(backend, error),
      }),
    withLock: (name, effect) => {
      const owner = newOwner()
      const acquire = Effect.flatMap(
        Effect.tryPromise({
          try: () => open().then(({ raw }) => raw.acquire(name, owner)),
          catch: (error) => asStoreError(backend, error),
        }),
        (taken) => (taken.held ? Effect.void : Effect.fail(new LockHeld({ name, holder: taken.holder }))),
      )
      const releaseOnce = Effect.tryPromise(() => open().then(({ raw }) => raw.release(name, owner)))
      // A release the store refuses (busy past its timeout, or away) is tried again in the background,
      // so the caller's answer does not wait: on SQLite a lock whose holder still runs is never taken
      // over, and on a server store only when its lease ends. It stops when the store closes: the
      // process is ending, and its locks with it.
      const release = Effect.catchAll(releaseOnce, () =>
        // Interruptible, though forked from a release, which is not: the store's closing must stop it.
        Effect.asVoid(
          Effect.forkIn(Effect.interruptible(Effect.ignore(Effect.retry(releaseOnce, untilReleased))), scope),
        ),
      )
      // While the effect runs, the lease is renewed; a lease lost all the same (the store was away
      // longer than the lease, and another process took the lock) stops the effect.
      const renewing = Effect.gen(function* () {
        const { raw } = yield* Effect.promise(open)
        while (true) {
          yield* Effect.sleep(raw.renewEveryMs)
          const kept = yield* Effect.promise(() =>
            raw
              .renew(name, owner)
              // A store that does not answer now may answer before the lease ends: try again.
              .catch(() => true),
          )
          if (!kept)
            return yield* Effect.fail(new LockHeld({ name, holder: "another process, after this one's lease ran out" }))
        }
      })
      return Effect.acquireUseRelease(
        acquire,
        // Interruptible even when the caller is not (a save that must finish): once the effect ends,
        // the renewal must stop, or the race would wait for it forever.
        () => Effect.raceFirst(effect, Effect.interruptible(renewing as Effect.Effect<never, LockHeld>)),
        () => release,
      )
    },
  }
}
