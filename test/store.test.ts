/**
 * The credential store on a real SQLite file and a real Redis server, sealing, and the rules that
 * keep a working connection safe.
 */
import { mkdtempSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createKeyway, type Keyway, runOrThrow } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { connect, openCredentials, resealAll, retest, type Vault } from "../runner/vault/connections.ts"
import { addKeyFile, loadKeyring, seal, unseal } from "../runner/vault/sealing.ts"
import { type ConnectionRecord, type ConnectionStore, openStore, StoreUnavailable } from "../runner/vault/store.ts"
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
  lastTest: { outcome: "connected", at: "2026-01-01T00:00:00.000Z", message: "ok", by: "save & test" },
  expiresAt: undefined,
})

describe("sealing credentials", () => {
  const keyring = loadKeyring(home())

  it("round-trips, and binds the ciphertext to its record", () => {
    const sealed = seal(keyring, '{"apiKey":"secret-value"}', "default/con_1")
    expect(JSON.stringify(sealed)).not.toContain("secret-value")
    expect(unseal(keyring, sealed, "default/con_1")).toEqual(Either.right('{"apiKey":"secret-value"}'))
    const moved = unseal(keyring, sealed, "default/con_2")
    expect(Either.isLeft(moved) && moved.left.reason).toBe("tampered")
  })

  it("rejects tampered ciphertext as an error, never garbage", () => {
    const sealed = seal(keyring, "plain", "default/con_1")
    const flipped = Buffer.from(sealed.data, "base64")
    flipped[0] = (flipped[0] ?? 0) ^ 1
    const tampered = unseal(keyring, { ...sealed, data: flipped.toString("base64") }, "default/con_1")
    expect(Either.isLeft(tampered) && tampered.left.reason).toBe("tampered")
    const shortTag = unseal(keyring, { ...sealed, tag: sealed.tag.slice(0, 8) }, "default/con_1")
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

  it("names a record sealed with a key that is not available", () => {
    const sealed = seal(loadKeyring(home()), "plain", "a/b")
    const result = unseal(keyring, sealed, "a/b")
    expect(Either.isLeft(result) && result.left.reason).toBe("unknown_key")
  })
})

const backends: Array<
  [string, () => Promise<{ store: (workspace?: string) => Promise<ConnectionStore>; done: () => Promise<void> }>]
> = [
  [
    "SQLite",
    async () => {
      const dir = home()
      return {
        store: (workspace = "default") => openStore({ home: dir, url: undefined, workspace }),
        done: async () => {},
      }
    },
  ],
]
if (redisBinary) {
  backends.push([
    "Redis",
    async () => {
      const redis = await startRedis(redisBinary)
      return {
        store: (workspace = "default") => openStore({ home: home(), url: redis.url, workspace }),
        done: () => redis.stop(),
      }
    },
  ])
}

describe.each(backends)("the %s store", (_name, make) => {
  let made: Awaited<ReturnType<typeof make>>
  beforeAll(async () => {
    made = await make()
  })
  afterAll(() => made.done())

  it("puts, gets, lists in creation order and removes records", async () => {
    const store = await made.store("crud")
    try {
      await Effect.runPromise(store.put(sampleRecord("con_2", "crud")))
      await Effect.runPromise(store.put(sampleRecord("con_1", "crud")))
      expect(await Effect.runPromise(store.get("con_1"))).toEqual(sampleRecord("con_1", "crud"))
      expect((await Effect.runPromise(store.list())).map((r) => r.id)).toEqual(["con_1", "con_2"])
      expect(await Effect.runPromise(store.remove("con_1"))).toBe(true)
      expect(await Effect.runPromise(store.get("con_1"))).toBeUndefined()
    } finally {
      await store.close()
    }
  })

  it("keeps sync checkpoints out of the list of connections", async () => {
    const store = await made.store("states")
    try {
      await Effect.runPromise(store.put(sampleRecord("con_1", "states")))
      await Effect.runPromise(store.putState("con_1:stream:abc", { position: 3 }))
      expect((await Effect.runPromise(store.list())).map((r) => r.id)).toEqual(["con_1"])
      expect(await Effect.runPromise(store.getState("con_1:stream:abc"))).toEqual({ position: 3 })
    } finally {
      await store.close()
    }
  })

  it("keeps each workspace's records apart", async () => {
    const a = await made.store("tenant-a")
    const b = await made.store("tenant-b")
    try {
      await Effect.runPromise(a.put(sampleRecord("con_1", "tenant-a")))
      expect(await Effect.runPromise(b.list())).toEqual([])
      expect(await Effect.runPromise(b.get("con_1"))).toBeUndefined()
    } finally {
      await a.close()
      await b.close()
    }
  })
})

describe("the SQLite file", () => {
  it("is created with mode 0600, and holds no credential in its bytes", async () => {
    const dir = home()
    const keyring = loadKeyring(dir)
    const store = await openStore({ home: dir, url: undefined, workspace: "default" })
    try {
      const record = {
        ...sampleRecord("con_1"),
        credentials: seal(keyring, '{"apiKey":"canary-sqlite-9f3k"}', "default/con_1"),
      }
      await Effect.runPromise(store.put(record))
    } finally {
      await store.close()
    }
    const file = join(dir, "keyway.sqlite")
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file).includes("canary-sqlite-9f3k")).toBe(false)
  })
})

describe.skipIf(!redisBinary)(
  `Redis going down${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    let redis: RedisServer
    beforeAll(async () => {
      redis = await startRedis(redisBinary as string)
    })
    afterAll(() => redis.stop())

    it("gives a clear error, not a hang, and leaves no corrupted record", async () => {
      const store = await openStore({ home: home(), url: redis.url, workspace: "crash", connectTimeoutMs: 500 })
      const original = sampleRecord("con_1", "crash")
      await Effect.runPromise(store.put(original))
      await redis.kill()
      const failed = await Effect.runPromise(Effect.either(store.put({ ...original, label: "changed" })))
      expect(Either.isLeft(failed) && failed.left).toBeInstanceOf(StoreUnavailable)
      expect(Either.isLeft(failed) && failed.left.message).toMatch(/^the Redis credential store is unavailable: /)
      await store.close()
      await redis.restart()
      const reopened = await openStore({ home: home(), url: redis.url, workspace: "crash" })
      try {
        expect(await Effect.runPromise(reopened.get("con_1"))).toEqual(original)
      } finally {
        await reopened.close()
      }
    })

    it("a store that cannot connect at all fails fast with a clear error", async () => {
      await expect(
        openStore({ home: home(), url: "redis://127.0.0.1:1", workspace: "x", connectTimeoutMs: 300 }).then((s) =>
          Effect.runPromise(
            Effect.ensuring(
              s.list(),
              Effect.promise(() => s.close()),
            ),
          ),
        ),
      ).rejects.toThrow(/Redis credential store is unavailable/)
    })
  },
)

describe("save & test with the store: nothing is lost", () => {
  let sandbox: Sandbox
  let keyway: Keyway
  let vault: Vault
  beforeAll(async () => {
    sandbox = await startSandbox()
    keyway = createKeyway({ sandboxUrl: sandbox.url })
    const dir = home()
    vault = { store: await openStore({ home: dir, url: undefined, workspace: "default" }), keyring: loadKeyring(dir) }
  })
  afterAll(async () => {
    await vault.store.close()
    await keyway.close()
    await sandbox.stop()
  })
  const run = <A, E>(
    effect: Effect.Effect<A, E, never> | Effect.Effect<A, E, import("../runner/http/transport.ts").HttpTransport>,
  ) => runOrThrow(keyway.runtime, effect)
  const activtrak = () => keyway.catalog.get("activtrak") as NonNullable<ReturnType<Keyway["catalog"]["get"]>>

  it("saves a new connection only when its test passes", async () => {
    const failed = await run(
      connect(activtrak(), { connectorId: "activtrak", credentials: { apiKey: "sandbox-invalid" } }, vault, {
        sandboxUrl: sandbox.url,
      }),
    )
    expect(failed).toMatchObject({ saved: false, connection: undefined })
    const kept = await run(
      connect(
        activtrak(),
        { connectorId: "activtrak", credentials: { apiKey: "sandbox-invalid" }, saveOnFailure: true },
        vault,
        { sandboxUrl: sandbox.url },
      ),
    )
    expect(kept.saved).toBe(true)
    expect(kept.connection?.lastTest?.outcome).toBe("invalid_credentials")
    const saved = await run(
      connect(
        activtrak(),
        { connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" }, label: "Prod" },
        vault,
        { sandboxUrl: sandbox.url },
      ),
    )
    expect(saved.connection).toMatchObject({ label: "Prod", connector: "activtrak", fingerprints: { apiKey: "…alid" } })
    expect(saved.connection).not.toHaveProperty("credentials")
  })

  it("a failed re-test with new credentials keeps the working ones; a passing one replaces them", async () => {
    const { connection } = await run(
      connect(activtrak(), { connectorId: "activtrak", credentials: { apiKey: "sandbox-records-7" } }, vault, {
        sandboxUrl: sandbox.url,
      }),
    )
    const id = connection?.id as string
    const before = await Effect.runPromise(vault.store.get(id))
    const typo = await run(
      retest(keyway.catalog, vault, id, { apiKey: "sandbox-invalld" }, { sandboxUrl: sandbox.url }),
    )
    expect(typo).toMatchObject({ replaced: false, result: { outcome: "invalid_credentials" } })
    expect(await Effect.runPromise(vault.store.get(id))).toEqual(before)

    const better = await run(
      retest(keyway.catalog, vault, id, { apiKey: "sandbox-records-9" }, { sandboxUrl: sandbox.url }),
    )
    expect(better).toMatchObject({ replaced: true, result: { outcome: "connected" } })
    const record = await Effect.runPromise(vault.store.get(id))
    expect(await Effect.runPromise(openCredentials(vault, record as ConnectionRecord))).toEqual({
      apiKey: "sandbox-records-9",
    })
    expect(record?.lastTest?.by).toBe("re-test with new credentials")
  })

  it("re-seals every record under a new master key", async () => {
    const dir = home()
    const store = await openStore({ home: dir, url: undefined, workspace: "default" })
    try {
      const first: Vault = { store, keyring: loadKeyring(dir) }
      const { connection } = await run(
        connect(activtrak(), { connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } }, first, {
          sandboxUrl: sandbox.url,
        }),
      )
      addKeyFile(dir)
      const rotated: Vault = { store, keyring: loadKeyring(dir) }
      expect(rotated.keyring.current.id).not.toBe(first.keyring.current.id)
      expect(await Effect.runPromise(resealAll(rotated))).toBe(1)
      const record = (await Effect.runPromise(store.get(connection?.id as string))) as ConnectionRecord
      expect(record.credentials.kid).toBe(rotated.keyring.current.id)
      expect(await Effect.runPromise(openCredentials(rotated, record))).toEqual({ apiKey: "sandbox-valid" })
    } finally {
      await store.close()
    }
  })
})
