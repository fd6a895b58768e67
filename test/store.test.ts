/**
 * The credential store on a real SQLite file and a real Redis server, sealing, and the rules that
 * keep a working connection safe.
 */
import { spawn } from "node:child_process"
import { createCipheriv, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createClient } from "@redis/client"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import sqlite3 from "sqlite3"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createKeyway, type Keyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { openServiceState } from "../runner/server/state.ts"
import { openCredentials } from "../runner/vault/connections.ts"
import { StoreUnavailable } from "../runner/vault/errors.ts"
import { rotateMasterKey } from "../runner/vault/rotation.ts"
import { loadKeyring, seal, unseal } from "../runner/vault/sealing.ts"
import {
  type ConnectionRecord,
  type ConnectionStore,
  openStore,
  Store,
  type StoreConfig,
} from "../runner/vault/store.ts"
import { cli } from "./support/cli.ts"
import { findPostgres, startPostgres } from "./support/postgres.ts"
import { findRedisServer, type RedisServer, startRedis } from "./support/redis.ts"

const home = () => mkdtempSync(join(tmpdir(), "keyway-home-"))
const redisBinary = findRedisServer()

const sampleRecord = (id: string, workspace = "default"): ConnectionRecord => ({
  v: 1,
  id,
  workspace,
  connector: "activtrak",
  label: `label ${id}`,
  settings: { region: "eu" },
  credentials: { v: 1, alg: "aes-256-gcm", kid: "k", iv: "aXY=", tag: "dGFn", data: "ZGF0YQ==" },
  fingerprints: { apiKey: "…abcd" },
  createdAt: new Date(Date.UTC(2026, 0, Number(id.slice(-1)) || 1)).toISOString(),
  updatedAt: "2026-01-01T00:00:00.000Z",
  lastTest: {
    at: "2026-01-01T00:00:00.000Z",
    by: "save & test",
    verdict: {
      outcome: "connected",
      actor: "none",
      code: "connected",
      reason: "expectation met",
      message: "ok",
      remediation: "Nothing to do.",
    },
  },
  expiresAt: undefined,
})

/** Unsealed credentials stay opaque; a test that checks their values reveals them itself. */
const revealAll = (credentials: Record<string, Redacted.Redacted<string>>) =>
  Object.fromEntries(Object.entries(credentials).map(([key, value]) => [key, Redacted.value(value)]))

/** Uses a store for as long as `use` runs, then closes it. */
const withStore = <A>(
  config: StoreConfig,
  use: (store: ConnectionStore) => Effect.Effect<A, unknown, Scope.Scope>,
): Promise<A> => Effect.runPromise(Effect.scoped(Effect.flatMap(openStore(config), use)))

/** Where a sealed record lives and what it says: what its credentials are bound to. */
const at = (where: string, connector = "activtrak") => {
  const [workspace = "", id = ""] = where.split("/")
  return { workspace, id, connector, settings: { region: "eu" } }
}

describe("sealing credentials", () => {
  const keyring = loadKeyring(home())

  it("round-trips, and binds the ciphertext to its record", () => {
    const sealed = seal(keyring, '{"apiKey":"secret-value"}', at("default/con_1"))
    expect(JSON.stringify(sealed)).not.toContain("secret-value")
    expect(unseal(keyring, sealed, at("default/con_1"))).toEqual(Either.right('{"apiKey":"secret-value"}'))
    const moved = unseal(keyring, sealed, at("default/con_2"))
    expect(Either.isLeft(moved) && moved.left.reason).toBe("tampered")
    const otherConnector = unseal(keyring, sealed, at("default/con_1", "peopletray"))
    expect(Either.isLeft(otherConnector) && otherConnector.left.reason).toBe("tampered")
    const otherSettings = unseal(keyring, sealed, { ...at("default/con_1"), settings: { region: "us" } })
    expect(Either.isLeft(otherSettings) && otherSettings.left.reason).toBe("tampered")
  })

  it("rejects tampered ciphertext as an error, never garbage", () => {
    const sealed = seal(keyring, "plain", at("default/con_1"))
    const flipped = Buffer.from(sealed.data, "base64")
    flipped[0] = (flipped[0] ?? 0) ^ 1
    const tampered = unseal(keyring, { ...sealed, data: flipped.toString("base64") }, at("default/con_1"))
    expect(Either.isLeft(tampered) && tampered.left.reason).toBe("tampered")
    const shortTag = unseal(keyring, { ...sealed, tag: sealed.tag.slice(0, 8) }, at("default/con_1"))
    expect(Either.isLeft(shortTag)).toBe(true)
  })

  it("creates the key file with mode 0600 in a 0700 home, and takes KEYWAY_MASTER_KEY instead when set", () => {
    const dir = home()
    const files = loadKeyring(dir)
    expect(files.source).toBe("files")
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, "keys", `${files.current.id}.key`)).mode & 0o777).toBe(0o600)
    const fromEnv = loadKeyring(home(), { KEYWAY_MASTER_KEY: "ab".repeat(32) })
    expect(fromEnv.source).toBe("environment")
    expect(() => loadKeyring(home(), { KEYWAY_MASTER_KEY: "too-short" })).toThrow(/32 bytes/)
  })

  it("loads the keyring while another process's losing first key comes and goes beside it", async () => {
    // Twenty first uses of a fresh home race to name `current`; each loser removes its own key file,
    // which a winner may just have listed. A real process plays the losers here, as fast as it can.
    const dir = home()
    const first = loadKeyring(dir)
    const keys = join(dir, "keys")
    const loser = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("node:fs"), crypto = require("node:crypto"), path = require("node:path")
         const dir = process.argv[1]
         for (;;) {
           const id = crypto.randomBytes(6).toString("hex")
           const temporary = path.join(dir, id + ".key." + id + ".tmp")
           fs.writeFileSync(temporary, crypto.randomBytes(32).toString("base64"), { mode: 0o600 })
           fs.renameSync(temporary, path.join(dir, id + ".key"))
           fs.rmSync(path.join(dir, id + ".key"))
         }`,
        keys,
      ],
      { stdio: "ignore" },
    )
    try {
      await new Promise((resolve) => setTimeout(resolve, 200))
      const problems = new Set<string>()
      const until = Date.now() + 3_000
      let loads = 0
      while (Date.now() < until) {
        try {
          expect(loadKeyring(dir).current.id).toBe(first.current.id)
        } catch (error) {
          problems.add(error instanceof Error ? error.message.replace(/[0-9a-f]{12}/g, "<id>") : String(error))
        }
        loads++
      }
      expect([...problems]).toEqual([])
      expect(loads).toBeGreaterThan(100)
    } finally {
      loser.kill("SIGKILL")
    }
  })

  it("still opens a record sealed before credentials were bound to more than their id (v1)", () => {
    const iv = randomBytes(12)
    const cipher = createCipheriv("aes-256-gcm", keyring.current.key, iv)
    cipher.setAAD(Buffer.from("default/con_1"))
    const data = Buffer.concat([cipher.update("legacy", "utf8"), cipher.final()])
    const legacy = {
      v: 1 as const,
      alg: "aes-256-gcm" as const,
      kid: keyring.current.id,
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      data: data.toString("base64"),
    }
    expect(unseal(keyring, legacy, at("default/con_1"))).toEqual(Either.right("legacy"))
  })

  it("names a record sealed with a key that is not available", () => {
    const sealed = seal(loadKeyring(home()), "plain", at("a/b"))
    const result = unseal(keyring, sealed, at("a/b"))
    expect(Either.isLeft(result) && result.left.reason).toBe("unknown_key")
  })
})

interface Backend {
  readonly config: (workspace: string) => StoreConfig
  readonly done: () => Promise<void>
  /** Takes the server down and brings it back (a server store's outage); SQLite has none. */
  readonly outage?: { readonly down: () => Promise<void>; readonly up: () => Promise<void> }
  /**
   * Makes the database itself refuse one kind of change (as a full disk, or a kill between two
   * writes, would refuse the second), until the returned function lifts it.
   */
  readonly refuse: (change: Refusal) => Promise<() => Promise<void>>
}

/** A change a database can be made to refuse: writing any event log, or deleting a record. */
type Refusal = "event-write" | "record-delete"

/** SQLite triggers that refuse a change, as `Backend.refuse`. */
const sqliteRefusal =
  (dir: string) =>
  async (change: Refusal): Promise<() => Promise<void>> => {
    const db = new sqlite3.Database(join(dir, "keyway.sqlite"))
    const exec = (sql: string) =>
      new Promise<void>((resolve, reject) => db.exec(sql, (error) => (error ? reject(error) : resolve())))
    const refusal = "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    if (change === "event-write") {
      await exec(`CREATE TRIGGER refuse_insert BEFORE INSERT ON keyv WHEN NEW.key LIKE '%:sync:events:%' ${refusal}`)
      await exec(`CREATE TRIGGER refuse_update BEFORE UPDATE ON keyv WHEN NEW.key LIKE '%:sync:events:%' ${refusal}`)
    } else {
      await exec(`CREATE TRIGGER refuse_delete BEFORE DELETE ON keyv WHEN OLD.key NOT LIKE '%:sync:%' ${refusal}`)
    }
    return async () => {
      await exec(
        change === "event-write"
          ? "DROP TRIGGER refuse_insert; DROP TRIGGER refuse_update"
          : "DROP TRIGGER refuse_delete",
      )
      await new Promise<void>((resolve) => db.close(() => resolve()))
    }
  }

/** On Redis, an ACL rule: the store's user may no longer run SET (every write) or DEL. */
const redisRefusal =
  (url: string) =>
  async (change: Refusal): Promise<() => Promise<void>> => {
    const admin = createClient({ url })
    await admin.connect()
    const command = change === "event-write" ? "set" : "del"
    await admin.sendCommand(["ACL", "SETUSER", "default", `-${command}`])
    return async () => {
      await admin.sendCommand(["ACL", "SETUSER", "default", `+${command}`])
      await admin.close()
    }
  }

interface PgClient {
  readonly connect: () => Promise<void>
  readonly query: (sql: string) => Promise<unknown>
  readonly end: () => Promise<void>
}

/** The same refusals on PostgreSQL, with a trigger function. */
const postgresRefusal =
  (url: string) =>
  async (change: Refusal): Promise<() => Promise<void>> => {
    // A client of its own (pg, @keyv/postgres's driver): keyv's adapter shares one pool with the store's.
    const { default: pg } = (await import("pg" as string)) as { default: { Client: new (options: object) => PgClient } }
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(
      "CREATE OR REPLACE FUNCTION keyway_test_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
    )
    await client.query(
      change === "event-write"
        ? "CREATE TRIGGER keyway_test_refusal BEFORE INSERT OR UPDATE ON keyv FOR EACH ROW WHEN (NEW.key LIKE '%:sync:events:%') EXECUTE FUNCTION keyway_test_refuse()"
        : "CREATE TRIGGER keyway_test_refusal BEFORE DELETE ON keyv FOR EACH ROW WHEN (OLD.key NOT LIKE '%:sync:%') EXECUTE FUNCTION keyway_test_refuse()",
    )
    return async () => {
      await client.query("DROP TRIGGER keyway_test_refusal ON keyv")
      await client.end()
    }
  }

const backends: Array<[string, () => Promise<Backend>]> = [
  [
    "SQLite",
    async () => {
      const dir = home()
      return {
        config: (workspace) => ({ home: dir, url: undefined, workspace }),
        done: async () => {},
        refuse: sqliteRefusal(dir),
      }
    },
  ],
]
if (redisBinary) {
  backends.push([
    "Redis",
    async () => {
      const redis = await startRedis(redisBinary)
      const dir = home()
      return {
        config: (workspace) => ({ home: dir, url: redis.url, workspace }),
        done: () => redis.stop(),
        outage: { down: redis.kill, up: redis.restart },
        refuse: redisRefusal(redis.url),
      }
    },
  ])
}

const postgresBin = findPostgres()
if (postgresBin) {
  backends.push([
    "PostgreSQL",
    async () => {
      const postgres = await startPostgres(postgresBin)
      const dir = home()
      return {
        config: (workspace) => ({ home: dir, url: postgres.url, workspace }),
        done: () => postgres.stop(),
        outage: { down: postgres.stop, up: postgres.start },
        refuse: postgresRefusal(postgres.url),
      }
    },
  ])
}

if (!postgresBin) {
  it.skip("the PostgreSQL store (skipped: no PostgreSQL server binaries, Debian's postgresql; CI installs them)", () => {})
}

describe.each(backends)("the %s store", (_name, make) => {
  let made: Awaited<ReturnType<typeof make>>
  beforeAll(async () => {
    made = await make()
  })
  afterAll(() => made.done())

  it("puts, gets, lists in creation order and removes records", async () => {
    await withStore(made.config("crud"), (store) =>
      Effect.gen(function* () {
        yield* store.put(sampleRecord("con_2", "crud"))
        yield* store.put(sampleRecord("con_1", "crud"))
        expect(yield* store.get("con_1")).toEqual(sampleRecord("con_1", "crud"))
        expect((yield* store.list()).records.map((r) => r.id)).toEqual(["con_1", "con_2"])
        expect(yield* store.remove("con_1")).toBe(true)
        expect(yield* store.get("con_1")).toBeUndefined()
      }),
    )
  })

  it("keeps sync checkpoints out of the list of connections", async () => {
    await withStore(made.config("states"), (store) =>
      Effect.gen(function* () {
        yield* store.put(sampleRecord("con_1", "states"))
        yield* store.putState("con_1:stream:abc", { position: 3 })
        expect((yield* store.list()).records.map((r) => r.id)).toEqual(["con_1"])
        expect(yield* store.getState("con_1:stream:abc")).toEqual({ position: 3 })
      }),
    )
  })

  it("writes a record and the state that goes with it together, and reads each back", async () => {
    await withStore(made.config("alongside"), (store) =>
      Effect.gen(function* () {
        yield* store.put(sampleRecord("con_1", "alongside"), {
          "events:con_1": [{ type: "created" }],
          "other:con_1": 7,
        })
        expect(yield* store.get("con_1")).toEqual(sampleRecord("con_1", "alongside"))
        expect(yield* store.getState("events:con_1")).toEqual([{ type: "created" }])
        expect(yield* store.getState("other:con_1")).toBe(7)
        // State written alongside is state, not a connection; and writing again replaces both.
        expect((yield* store.list()).records.map((r) => r.id)).toEqual(["con_1"])
        yield* store.put({ ...sampleRecord("con_1", "alongside"), label: "again" }, { "events:con_1": [] })
        expect((yield* store.get("con_1"))?.label).toBe("again")
        expect(yield* store.getState("events:con_1")).toEqual([])
      }),
    )
  })

  it("removes a record and writes the state that goes with it in one write; a record already gone writes nothing", async () => {
    await withStore(made.config("removal"), (store) =>
      Effect.gen(function* () {
        yield* store.put(sampleRecord("con_1", "removal"), { "events:con_1": ["created"] })
        expect(yield* store.remove("con_1", { "events:con_1": ["created", "removed"] })).toBe(true)
        expect(yield* store.get("con_1")).toBeUndefined()
        expect(yield* store.getState("events:con_1")).toEqual(["created", "removed"])
        // Removed already (another server's DELETE won the race): nothing is written, and it says so.
        expect(yield* store.remove("con_1", { "events:con_1": ["created", "removed", "removed"] })).toBe(false)
        expect(yield* store.getState("events:con_1")).toEqual(["created", "removed"])
        expect((yield* store.list()).records).toEqual([])
      }),
    )
  })

  it("removes a record and its state together or not at all, when the database refuses either", async () => {
    const config = made.config("removal-refused")
    await withStore(config, (store) =>
      store.put(sampleRecord("con_1", "removal-refused"), { "events:con_1": ["created"] }),
    )
    for (const change of ["event-write", "record-delete"] as const) {
      const lift = await made.refuse(change)
      const refused = await withStore(config, (store) =>
        Effect.either(store.remove("con_1", { "events:con_1": ["created", "removed"] })),
      )
      await lift()
      expect(Either.isLeft(refused), change).toBe(true)
      // Neither half happened: the record is there, and its log does not say it was removed.
      expect((await withStore(config, (store) => store.get("con_1")))?.id, change).toBe("con_1")
      expect(await withStore(config, (store) => store.getState("events:con_1")), change).toEqual(["created"])
    }
    // Once the database takes writes again, the same removal goes through.
    expect(await withStore(config, (store) => store.remove("con_1", { "events:con_1": ["created", "removed"] }))).toBe(
      true,
    )
    expect(await withStore(config, (store) => store.get("con_1"))).toBeUndefined()
  })

  it("keeps every audit event recorded at once for one connection, from two servers", async () => {
    const config = made.config("events")
    const recorded = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          // Two service states over one store: two servers (or a server and a worker) of one fleet.
          const one = yield* openServiceState(config)
          const two = yield* openServiceState(config)
          const event = (index: number) => ({
            type: "tested" as const,
            at: new Date().toISOString(),
            by: `test ${index}`,
          })
          yield* Effect.all(
            Array.from({ length: 24 }, (_, index) =>
              (index % 2 === 0 ? one : two).recordEvent("events", "con_1", event(index)),
            ),
            { concurrency: "unbounded" },
          )
          return yield* one.events("events", "con_1")
        }),
      ),
    )
    expect(recorded.map((event) => event.by).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `test ${i}`).sort())
  })

  it("save & test, re-test, replace, the audit log and a key rotation, through the library and the CLI", async () => {
    const sandbox = await startSandbox()
    const config = made.config("lifecycle")
    const env = {
      KEYWAY_HOME: config.home,
      ...(config.url ? { KEYWAY_STORE: config.url } : {}),
      KEYWAY_WORKSPACE: "lifecycle",
    }
    const keyway = createKeyway({ sandboxUrl: sandbox.url, store: config, env: { ...process.env, ...env } })
    try {
      const made1 = await keyway.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
      const id = made1.connection?.id as string
      expect((await keyway.connections.test(id)).result.verdict.outcome).toBe("connected")
      expect((await keyway.connections.replace(id, { apiKey: "sandbox-invalid" })).replaced).toBe(false)
      expect((await keyway.connections.replace(id, { apiKey: "sandbox-records-7" })).replaced).toBe(true)
      await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(openServiceState(config), (state) =>
            Effect.gen(function* () {
              yield* state.recordEvent("lifecycle", id, { type: "created", at: "2026-01-01T00:00:00.000Z", by: "test" })
              yield* state.recordEvent("lifecycle", id, {
                type: "replaced",
                at: "2026-01-02T00:00:00.000Z",
                by: "test",
              })
              expect((yield* state.events("lifecycle", id)).map((e) => e.type)).toEqual(["created", "replaced"])
            }),
          ),
        ),
      )
      expect((await cli(["rotate-key"], { env })).code).toBe(0)
      await keyway.close()
      const after = createKeyway({ sandboxUrl: sandbox.url, store: config, env: { ...process.env, ...env } })
      try {
        const retested = await after.connections.test(id)
        expect([retested.result.verdict.outcome, retested.connection.fingerprints.apiKey]).toEqual([
          "connected",
          "…ds-7",
        ])
      } finally {
        await after.close()
      }
    } finally {
      await sandbox.stop()
    }
  })

  it("a store that is down answers StoreUnavailable, and nothing saved is lost", async () => {
    if (!made.outage) return
    const config = made.config("outage")
    await withStore(config, (store) => store.put(sampleRecord("con_1", "outage")))
    await made.outage.down()
    const refused = await Effect.runPromise(
      Effect.either(
        Effect.scoped(Effect.flatMap(openStore({ ...config, connectTimeoutMs: 500 }), (store) => store.list())),
      ),
    )
    expect(refused._tag === "Left" && refused.left._tag).toBe("StoreUnavailable")
    await made.outage.up()
    await withStore(config, (store) =>
      Effect.map(store.list(), (listing) => expect(listing.records.map((r) => r.id)).toEqual(["con_1"])),
    )
  }, 30_000)

  it("keeps each workspace's records apart", async () => {
    await withStore(made.config("tenant-a"), (a) =>
      Effect.flatMap(openStore(made.config("tenant-b")), (b) =>
        Effect.gen(function* () {
          yield* a.put(sampleRecord("con_1", "tenant-a"))
          expect(yield* b.list()).toEqual({ records: [], unreadable: [] })
          expect(yield* b.get("con_1")).toBeUndefined()
        }),
      ),
    )
  })

  it("lists only its own workspace's records, when another's name differs by case or by _", async () => {
    // SQL's LIKE takes "_" for any one character, and SQLite's ignores case: a listing by
    // LIKE 'keyway-Tenant_x:%' took in the records of "tenant-x".
    const neighbour = "tenant-x"
    await withStore(made.config(neighbour), (store) => store.put(sampleRecord("con_1", neighbour)))
    for (const workspace of ["Tenant-x", "tenant_x", "TENANT_X"]) {
      const listing = await withStore(made.config(workspace), (store) => store.list())
      expect(listing, workspace).toEqual({ records: [], unreadable: [] })
    }
    const own = await withStore(made.config(neighbour), (store) => store.list())
    expect(own.records.map((r) => r.id)).toEqual(["con_1"])
  })
  it("a store-wide lock has one holder at a time, is kept past its lease while held, and is free after", async () => {
    // A lease of 600 ms, renewed every 200 ms: holding it for 2 s proves the renewal.
    const config = { ...made.config("locks"), lockLeaseMs: 600 }
    const attempts: string[] = []
    await withStore(config, (holder) =>
      Effect.flatMap(openStore(config), (other) =>
        Effect.gen(function* () {
          const tryLock = (label: string) =>
            other
              .withLock(
                "exclusive",
                Effect.sync(() => attempts.push(`${label}: taken`)),
              )
              .pipe(Effect.catchTag("LockHeld", (held) => Effect.sync(() => attempts.push(`${label}: ${held._tag}`))))
          yield* holder.withLock(
            "exclusive",
            Effect.gen(function* () {
              yield* tryLock("at once")
              yield* Effect.sleep(1200)
              yield* tryLock("after two leases")
              yield* Effect.sleep(800)
            }),
          )
          yield* tryLock("after release")
          // Held by a caller that must not be interrupted (a save that has to finish): it still ends.
          yield* Effect.uninterruptible(
            holder.withLock(
              "must-finish",
              Effect.sync(() => attempts.push("uninterruptible: done")),
            ),
          )
        }),
      ),
    )
    expect(attempts).toEqual([
      "at once: LockHeld",
      "after two leases: LockHeld",
      "after release: taken",
      "uninterruptible: done",
    ])
  })
})

describe.skipIf(!postgresBin)(
  `a fresh PostgreSQL server${postgresBin ? "" : " (skipped: no PostgreSQL server binaries, Debian's postgresql; CI installs them)"}`,
  () => {
    it("lets several stores take their first locks at once: the lock table is made once, by whichever is first", async () => {
      const postgres = await startPostgres(postgresBin as string)
      const { default: pg } = (await import("pg" as string)) as {
        default: { Client: new (options: object) => PgClient }
      }
      const admin = new pg.Client({ connectionString: postgres.url })
      await admin.connect()
      try {
        // Each store makes the lock table on its first lock; made at once, PostgreSQL refuses all but one,
        // in one of three ways as the race falls (23505, 42P07 or 42710), so the race is run ten times.
        for (let round = 0; round < 10; round++) {
          await admin.query("DROP TABLE IF EXISTS keyway_locks")
          const taken = await Effect.runPromise(
            Effect.scoped(
              Effect.gen(function* () {
                const stores = yield* Effect.all(
                  Array.from({ length: 12 }, (_, index) =>
                    openStore({ home: home(), url: postgres.url, workspace: `first-${index}` }),
                  ),
                )
                // Opened, and the pool's connections made, before any lock: the locks' first calls meet.
                yield* Effect.all(
                  stores.map((store) => store.get("con_0")),
                  { concurrency: "unbounded" },
                )
                return yield* Effect.all(
                  stores.map((store, index) => store.withLock(`first-${index}`, Effect.succeed(index))),
                  { concurrency: "unbounded" },
                )
              }),
            ),
          )
          expect(taken, `round ${round}`).toEqual(Array.from({ length: 12 }, (_, index) => index))
        }
      } finally {
        await admin.end()
        await postgres.stop()
      }
    }, 120_000)
  },
)

describe("the SQLite file", () => {
  it("is created with mode 0600, and holds no credential in its bytes", async () => {
    const dir = home()
    const keyring = loadKeyring(dir)
    await withStore({ home: dir, url: undefined, workspace: "default" }, (store) =>
      store.put({
        ...sampleRecord("con_1"),
        credentials: seal(keyring, '{"apiKey":"canary-sqlite-9f3k"}', at("default/con_1")),
      }),
    )
    const file = join(dir, "keyway.sqlite")
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file).includes("canary-sqlite-9f3k")).toBe(false)
  })
})

describe("a record and its audit event on SQLite", () => {
  it("are one statement: when the event's row is refused, the record is not written either", async () => {
    const dir = home()
    const config = { home: dir, url: undefined, workspace: "atomic" }
    await withStore(config, (store) => store.put(sampleRecord("con_0", "atomic")))
    // Triggers that refuse the second row of the write, as a full disk or a kill between two writes would.
    const lift = await sqliteRefusal(dir)("event-write")
    const refused = await withStore(config, (store) =>
      Effect.either(store.put(sampleRecord("con_1", "atomic"), { "events:con_1": [{ type: "created" }] })),
    )
    expect(Either.isLeft(refused)).toBe(true)
    expect(await withStore(config, (store) => store.get("con_1"))).toBeUndefined()
    // Without state alongside, the same store still writes.
    await withStore(config, (store) => store.put(sampleRecord("con_2", "atomic")))
    await lift()
    expect((await withStore(config, (store) => store.list())).records.map((r) => r.id)).toEqual(["con_0", "con_2"])
  })
})

describe("a lock whose release fails on SQLite", () => {
  it("is released once the store takes writes again, not held for as long as its process lives", async () => {
    const dir = home()
    const config = { home: dir, url: undefined, workspace: "release" }
    await withStore(config, (store) => store.put(sampleRecord("con_1", "release")))
    const db = new sqlite3.Database(join(dir, "keyway.sqlite"))
    const exec = (sql: string) =>
      new Promise<void>((resolve, reject) => db.exec(sql, (error) => (error ? reject(error) : resolve())))
    const locks = () =>
      new Promise<unknown[]>((resolve, reject) =>
        db.all("SELECT name FROM keyway_locks", (error, rows) => (error ? reject(error) : resolve(rows))),
      )
    try {
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const store = yield* openStore(config)
            // The lock is taken (and its table made) before the store refuses its release.
            yield* store.withLock("first", Effect.void)
            yield* Effect.promise(() =>
              exec(
                "CREATE TRIGGER refuse_release BEFORE DELETE ON keyway_locks BEGIN SELECT RAISE(ABORT, 'refused'); END",
              ),
            )
            // The work under the lock is done and answered, though its release was refused.
            expect(yield* store.withLock("events:con_1", Effect.succeed("done"))).toBe("done")
            expect(yield* Effect.promise(locks)).toEqual([{ name: "events:con_1" }])
            yield* Effect.promise(() => exec("DROP TRIGGER refuse_release"))
            // Main gave up at the first refusal: the lock stayed held by this live process, and every
            // later turn at this connection's log failed with LockHeld until the process ended.
            for (let waited = 0; (yield* Effect.promise(locks)).length > 0 && waited < 10_000; waited += 50) {
              yield* Effect.sleep("50 millis")
            }
            expect(yield* Effect.promise(locks)).toEqual([])
            expect(yield* store.withLock("events:con_1", Effect.succeed("again"))).toBe("again")
          }),
        ),
      )
    } finally {
      await new Promise<void>((resolve) => db.close(() => resolve()))
    }
  }, 30_000)
})

describe("removals beside other writes on SQLite", () => {
  it("all succeed at once, in one workspace and in others on the same file, and leave no lock held", async () => {
    const dir = home()
    const config = { home: dir, url: undefined, workspace: "busy" }
    const ids = Array.from({ length: 24 }, (_, index) => `con_${index}`)
    // Other workspaces' stores: each its own connection to the same file, in the same process.
    const others = ["other-1", "other-2", "other-3"]
    const event = (type: "removed" | "tested") => ({ type, at: new Date().toISOString(), by: "test" })
    const outcomes = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const state = yield* openServiceState(config)
          const store = state.storeFor("busy")
          for (const id of ids) yield* store.put(sampleRecord(id, "busy"), { [`events:${id}`]: [event("tested")] })
          for (const other of others) yield* state.storeFor(other).put(sampleRecord("con_x", other))
          // Half removed, half tested, all at once: each takes its log's lock (writes) and reads its log.
          // A removal's transaction on a second connection left these writes asleep in SQLite's busy wait
          // on every thread of the pool: some failed SQLITE_BUSY, and locks whose release failed stayed held.
          // One gate per connection still let the other workspaces' writes starve a removal: 1 removal
          // beside 4 events in another workspace took 80 s and failed all 4.
          return yield* Effect.all(
            [
              ...ids.map((id, index) =>
                Effect.either(
                  index % 2 === 0
                    ? state.recordEventWith("busy", id, event("removed"), (alongside) =>
                        Effect.asVoid(store.remove(id, alongside)),
                      )
                    : state.recordEvent("busy", id, event("tested")),
                ),
              ),
              ...others.flatMap((other) =>
                [0, 1, 2, 3].map(() => Effect.either(state.recordEvent(other, "con_x", event("tested")))),
              ),
            ],
            { concurrency: "unbounded" },
          )
        }),
      ),
    )
    expect(outcomes.filter(Either.isLeft).map((outcome) => String(outcome.left))).toEqual([])
    const db = new sqlite3.Database(join(dir, "keyway.sqlite"))
    const locks = await new Promise<unknown[]>((resolve, reject) =>
      db.all("SELECT name FROM keyway_locks", (error, rows) => (error ? reject(error) : resolve(rows))),
    )
    await new Promise<void>((resolve) => db.close(() => resolve()))
    expect(locks).toEqual([])
    const left = await withStore(config, (store) => store.list())
    expect(left.records.map((record) => record.id).sort()).toEqual(ids.filter((_, index) => index % 2 === 1).sort())
  }, 120_000)
})

describe.skipIf(!redisBinary)(
  `Redis: listing, and the keys beside the records${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    let redis: RedisServer
    /** A client of its own, to set keys beside the store's and read the server's command counts. */
    let admin: ReturnType<typeof createClient>
    beforeAll(async () => {
      redis = await startRedis(redisBinary as string)
      admin = createClient({ url: redis.url })
      await admin.connect()
    })
    afterAll(async () => {
      await admin.close()
      await redis.stop()
    })

    it("lists a workspace in a few round trips, not one per record, and never reads the state beside them", async () => {
      const config = { home: home(), url: redis.url, workspace: "many" }
      await withStore(config, (store) =>
        Effect.forEach(
          Array.from({ length: 400 }, (_, i) => `con_${i}`),
          (id) => Effect.zipRight(store.put(sampleRecord(id, "many")), store.putState(`events:${id}`, [{ type: "x" }])),
          { discard: true },
        ),
      )
      await admin.configResetStat()
      const listing = await withStore(config, (store) => store.list())
      expect(listing.records).toHaveLength(400)
      const stats = await admin.info("commandstats")
      const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
      // Main sent a GET for each of the 800 keys, the events' included.
      expect(calls("get")).toBe(0)
      expect(calls("mget")).toBeGreaterThan(0)
      expect(calls("mget")).toBeLessThanOrEqual(5)
    })

    it("names only real workspaces: not the fleet's pace keys (a tenant's base URL may hold ::), nor the locks", async () => {
      const config = { home: home(), url: redis.url, workspace: "owner" }
      // Keys as runner/fleet/shared-pacing.ts writes them, for a self-hosted server the tenant named.
      await admin.set("keyway-pace:https://[2606:4700::1111]/|abc", "1")
      await admin.set("keyway-pace:https://vendor.example/a::b|abc", "1")
      const names = await withStore(config, (store) =>
        Effect.zipRight(store.put(sampleRecord("con_1", "owner")), store.withLock("rotate-key", store.workspaces())),
      )
      expect(names).toContain("owner")
      expect(names.filter((name) => !/^[A-Za-z0-9_-]{1,64}$/.test(name) || name === "locks")).toEqual([])
      // Each name is opened as a store: one that cannot be stopped the rotation of every workspace.
      const rotation = await Effect.runPromise(rotateMasterKey(config, {}))
      expect(rotation.workspaces).toBe(names.length)
    })
  },
)

describe.skipIf(!redisBinary)(
  `Redis going down${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    let redis: RedisServer
    beforeAll(async () => {
      redis = await startRedis(redisBinary as string)
    })
    afterAll(() => redis.stop())

    it("gives a clear error, not a hang, and leaves no corrupted record", async () => {
      const original = sampleRecord("con_1", "crash")
      await withStore({ home: home(), url: redis.url, workspace: "crash", connectTimeoutMs: 500 }, (store) =>
        Effect.gen(function* () {
          yield* store.put(original)
          yield* Effect.promise(() => redis.kill())
          const failed = yield* Effect.either(store.put({ ...original, label: "changed" }))
          expect(Either.isLeft(failed) && failed.left).toBeInstanceOf(StoreUnavailable)
          expect(Either.isLeft(failed) && failed.left.message).toMatch(/^the Redis credential store is unavailable: /)
        }),
      )
      await redis.restart()
      await withStore({ home: home(), url: redis.url, workspace: "crash" }, (reopened) =>
        Effect.map(reopened.get("con_1"), (record) => expect(record).toEqual(original)),
      )
    })

    it("a store that cannot connect at all fails fast with a clear error", async () => {
      await expect(
        withStore({ home: home(), url: "redis://127.0.0.1:1", workspace: "x", connectTimeoutMs: 300 }, (s) => s.list()),
      ).rejects.toThrow(/Redis credential store is unavailable/)
    })
  },
)

describe("save & test with the store: nothing is lost", () => {
  let sandbox: Sandbox
  let keyway: Keyway
  beforeAll(async () => {
    sandbox = await startSandbox()
    keyway = createKeyway({
      sandboxUrl: sandbox.url,
      store: { home: home(), url: undefined, workspace: "default" },
      env: {},
    })
  })
  afterAll(async () => {
    await keyway.close()
    await sandbox.stop()
  })
  const stored = (id: string) => keyway.run(Effect.flatMap(Store, (store) => store.get(id)))

  it("saves a new connection only when its test passes", async () => {
    const failed = await keyway.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-invalid" } })
    expect(failed).toMatchObject({ saved: false, connection: undefined })
    const kept = await keyway.connect({
      connectorId: "activtrak",
      credentials: { apiKey: "sandbox-invalid" },
      saveOnFailure: true,
    })
    expect(kept.saved).toBe(true)
    expect(kept.connection?.lastTest?.verdict.outcome).toBe("invalid_credentials")
    const saved = await keyway.connect({
      connectorId: "activtrak",
      credentials: { apiKey: "sandbox-valid" },
      label: "Prod",
    })
    expect(saved.connection).toMatchObject({ label: "Prod", connector: "activtrak", fingerprints: { apiKey: "…alid" } })
    expect(saved.connection).not.toHaveProperty("credentials")
  })

  it("a failed re-test with new credentials keeps the working ones; a passing one replaces them", async () => {
    const { connection } = await keyway.connect({
      connectorId: "activtrak",
      credentials: { apiKey: "sandbox-records-7" },
    })
    const id = connection?.id as string
    const before = await stored(id)
    const typo = await keyway.connections.replace(id, { apiKey: "sandbox-invalld" })
    expect(typo.replaced).toBe(false)
    expect(typo.result.verdict.outcome).toBe("invalid_credentials")
    expect(await stored(id)).toEqual(before)

    const better = await keyway.connections.replace(id, { apiKey: "sandbox-records-9" })
    expect(better.replaced).toBe(true)
    expect(better.result.verdict.outcome).toBe("connected")
    const record = (await stored(id)) as ConnectionRecord
    expect(revealAll(await keyway.run(openCredentials(record)))).toEqual({ apiKey: "sandbox-records-9" })
    expect(record.lastTest?.by).toBe("re-test with new credentials")
  })

  it("replacing one credential of two keeps the other as it was", async () => {
    const { connection } = await keyway.connect({
      connectorId: "trackvia",
      credentials: { apiKey: "sandbox-valid", authToken: "sandbox-valid" },
    })
    const id = connection?.id as string
    const replaced = await keyway.connections.replace(id, { authToken: "sandbox-records-5" })
    expect(replaced.replaced).toBe(true)
    const record = (await stored(id)) as ConnectionRecord
    expect(revealAll(await keyway.run(openCredentials(record)))).toEqual({
      apiKey: "sandbox-valid",
      authToken: "sandbox-records-5",
    })
    expect((await keyway.connections.test(id)).result.verdict.outcome).toBe("connected")
  })

  it("re-seals every record under a new master key", async () => {
    const dir = home()
    const config = { home: dir, url: undefined, workspace: "default" }
    const first = createKeyway({ sandboxUrl: sandbox.url, store: config, env: {} })
    const { connection } = await first.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
    const firstKey = loadKeyring(dir, {}).current.id
    await first.close()
    const rotation = await Effect.runPromise(rotateMasterKey(config, {}))
    const rotated = createKeyway({ sandboxUrl: sandbox.url, store: config, env: {} })
    try {
      const rotatedKey = loadKeyring(dir, {}).current.id
      expect(rotatedKey).not.toBe(firstKey)
      expect(rotation).toMatchObject({ keyId: rotatedKey, resealed: 1, workspaces: 1, retired: [firstKey] })
      const record = (await rotated.run(
        Effect.flatMap(Store, (store) => store.get(connection?.id as string)),
      )) as ConnectionRecord
      expect(record.credentials.kid).toBe(rotatedKey)
      expect(revealAll(await rotated.run(openCredentials(record)))).toEqual({ apiKey: "sandbox-valid" })
    } finally {
      await rotated.close()
    }
  })
})
