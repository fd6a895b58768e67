/**
 * The credential store: connection records in keyv, one namespace per workspace (tenant). The
 * embedded default is SQLite in `KEYWAY_HOME` (default `~/.keyway`); `KEYWAY_STORE=redis://...`
 * selects a shared Redis, set to fail fast so a dead Redis is a clear error, not a hang.
 *
 * A record is written with one `set`: a single SQL upsert or a single Redis SET, so a write is
 * atomic per record. Credentials in a record are sealed (`sealing.ts`) before they reach keyv.
 */
import { chmodSync, existsSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import type { RedisClientOptions } from "@keyv/redis"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import Keyv from "keyv"
import type { Verdict } from "../../core/outcomes.ts"
import { StoreUnavailable } from "./errors.ts"
import { ensureHome, type Sealed } from "./sealing.ts"

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
}

export interface ConnectionStore {
  readonly backend: "sqlite" | "redis"
  readonly workspace: string
  /** Sync checkpoints live beside the records, under keys that start with `sync:`. */
  readonly getState: <S>(key: string) => Effect.Effect<S | undefined, StoreUnavailable>
  readonly putState: <S>(key: string, state: S) => Effect.Effect<void, StoreUnavailable>
  readonly get: (id: string) => Effect.Effect<ConnectionRecord | undefined, StoreUnavailable>
  readonly put: (record: ConnectionRecord) => Effect.Effect<void, StoreUnavailable>
  readonly remove: (id: string) => Effect.Effect<boolean, StoreUnavailable>
  readonly list: () => Effect.Effect<ReadonlyArray<ConnectionRecord>, StoreUnavailable>
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

const isConnectionRecord = (value: unknown): value is ConnectionRecord =>
  typeof value === "object" && value !== null && "connector" in value && "credentials" in value && "id" in value

/**
 * The store for the length of the scope. It connects on first use, not before, so a command that
 * never touches it never opens it; a connection that failed is tried again by the next call; and it
 * is closed when the scope ends.
 */
export const openStore = (config: StoreConfig): Effect.Effect<ConnectionStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    let opening: Promise<{ keyv: Keyv; backend: "sqlite" | "redis" }> | undefined
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
    return storeOver(open, isRedisUrl(config.url) ? "redis" : "sqlite", config.workspace)
  })

export const storeLayer = (config: StoreConfig): Layer.Layer<Store> => Layer.scoped(Store, openStore(config))

const isRedisUrl = (url: string | undefined): boolean =>
  url?.startsWith("redis://") === true || url?.startsWith("rediss://") === true

const connectKeyv = async (config: StoreConfig): Promise<{ keyv: Keyv; backend: "sqlite" | "redis" }> => {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(config.workspace)) {
    throw new StoreUnavailable({ backend: "sqlite", detail: "a workspace name is 1 to 64 letters, digits, - or _" })
  }
  // No colon in the namespace: keyv strips a key's prefix up to the first colon when listing.
  const namespace = `keyway-${config.workspace}`
  let keyv: Keyv
  let backend: "sqlite" | "redis"
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
  } else if (config.url === undefined || config.url === "" || config.url === "sqlite") {
    backend = "sqlite"
    ensureHome(config.home)
    const file = join(config.home, "keyway.sqlite")
    // Create the file with owner-only permissions before SQLite opens it.
    if (!existsSync(file)) writeFileSync(file, "", { mode: 0o600 })
    chmodSync(file, 0o600)
    const { default: KeyvSqlite } = await import("@keyv/sqlite")
    const adapter = new KeyvSqlite(`sqlite://${file}`)
    // WAL with synchronous=NORMAL survives a crashed or killed process (what resume relies on) and
    // spares an fsync per write, which a checkpoint after every page would otherwise pay.
    await adapter.query("PRAGMA journal_mode=WAL")
    await adapter.query("PRAGMA synchronous=NORMAL")
    keyv = new Keyv({ store: adapter, namespace, throwOnErrors: true })
  } else {
    throw new StoreUnavailable({
      backend: "sqlite",
      detail: "KEYWAY_STORE must be a redis:// URL, or unset for SQLite",
    })
  }
  keyv.on("error", () => {
    // Errors surface through the rejected calls below (throwOnErrors); the event is not a second channel.
  })
  return { keyv, backend }
}

const storeOver = (
  open: () => Promise<{ keyv: Keyv }>,
  backend: "sqlite" | "redis",
  workspace: string,
): ConnectionStore => {
  const namespace = `keyway-${workspace}`
  const attempt = <A>(run: (keyv: Keyv) => Promise<A>) =>
    Effect.tryPromise({
      try: () => open().then(({ keyv }) => run(keyv)),
      catch: (error) =>
        error instanceof StoreUnavailable ? error : new StoreUnavailable({ backend, detail: describe(error) }),
    })

  return {
    backend,
    workspace,
    get: (id) => attempt((keyv) => keyv.get<ConnectionRecord>(id)),
    getState: <S>(key: string) => attempt((keyv) => keyv.get<S>(`sync:${key}`)),
    putState: (key, state) =>
      attempt(async (keyv) => {
        await keyv.set(`sync:${key}`, state)
      }),
    put: (record) =>
      attempt(async (keyv) => {
        await keyv.set(record.id, record)
      }),
    remove: (id) => attempt((keyv) => keyv.delete(id)),
    list: () =>
      attempt(async (keyv) => {
        const records: ConnectionRecord[] = []
        if (!keyv.iterator) throw new Error("this store cannot list its records")
        for await (const [key, value] of keyv.iterator(namespace)) {
          if (String(key).startsWith("sync:")) continue
          if (isConnectionRecord(value)) records.push(value)
        }
        return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      }),
  }
}
