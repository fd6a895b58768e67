/**
 * Credentials at rest: sealed with AES-256-GCM (authenticated), under a master key named by an id,
 * so `keyway rotate-key` can re-seal every record. The record's identity is the additional
 * authenticated data, so sealed credentials cannot be swapped between records.
 *
 * Master keys come from `KEYWAY_MASTER_KEY` (32 bytes, base64 or hex; earlier ones may be listed in
 * `KEYWAY_PREVIOUS_MASTER_KEYS` for decryption), or else from key files in `KEYWAY_HOME/keys/`,
 * created with mode 0600 on first use.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto"
import {
  closeSync,
  constants,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { join } from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { MasterKeyProblem, UnsealFailed } from "./errors.ts"
import { ensureHome, refuseLink } from "./home.ts"

export interface Sealed {
  /** 2 binds the record's place and meaning (`SealedFor`); 1, the record's id alone, is still read. */
  readonly v: 1 | 2
  readonly alg: "aes-256-gcm"
  /** Which master key sealed it. */
  readonly kid: string
  readonly iv: string
  readonly tag: string
  readonly data: string
}

export interface MasterKeys {
  readonly current: { readonly id: string; readonly key: Buffer }
  readonly byId: ReadonlyMap<string, Buffer>
  /** Where the keys came from: files can be rotated by Keyway, environment keys by the operator. */
  readonly source: "environment" | "files"
}

/** The master keys of this process, as a service. */
export class Keyring extends Context.Tag("keyway/Keyring")<Keyring, MasterKeys>() {}

export const keyId = (key: Buffer): string => createHash("sha256").update(key).digest("hex").slice(0, 12)

const parseKey = (text: string, variable: string): Buffer => {
  const trimmed = text.trim()
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64")
  if (key.length !== 32) {
    throw new MasterKeyProblem({ detail: `${variable} must be 32 bytes, as 64 hex digits or base64` })
  }
  return key
}

const keysDir = (home: string) => join(home, "keys")
const KEY_FILE = /^[0-9a-f]{12}\.key$/

/** A link in the keys folder could swap in someone else's key: refused. */
const refuseKeyLink = (path: string, what: string): void =>
  refuseLink(path, what, (detail) => new MasterKeyProblem({ detail }))

/** Reads a file in the keys folder, refusing to follow a link. */
const readKeysFile = (path: string, what: string): string => {
  refuseKeyLink(path, what)
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    return readFileSync(fd, "utf8")
  } finally {
    closeSync(fd)
  }
}

/** `readKeysFile`, or undefined when the file is not there (any other failure still throws). */
const readKeyFileIfPresent = (path: string, what: string): string | undefined => {
  try {
    return readKeysFile(path, what)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
}

/** Writes `text` to a fresh temporary file beside `path`: whole or not at all. */
const writeTemporary = (path: string, text: string): string => {
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`
  writeFileSync(temporary, text, { mode: 0o600, flag: "wx" })
  return temporary
}

/** A new key file, written under a temporary name and renamed: no reader ever sees half a key. */
const writeKeyFile = (dir: string, key: Buffer): string => {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  refuseKeyLink(dir, "keys")
  const id = keyId(key)
  renameSync(writeTemporary(join(dir, `${id}.key`), key.toString("base64")), join(dir, `${id}.key`))
  return id
}

/**
 * The first key of a fresh home. Several processes may start at once: each writes its own key file,
 * then tries to link `current` to it; `link` fails if `current` exists, so exactly one wins, and the
 * others remove their key and use the winner's.
 */
const createFirstKey = (dir: string): void => {
  const id = writeKeyFile(dir, randomBytes(32))
  const pointer = writeTemporary(join(dir, "current"), id)
  try {
    linkSync(pointer, join(dir, "current"))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    rmSync(join(dir, `${id}.key`), { force: true })
  } finally {
    rmSync(pointer, { force: true })
  }
}

/** The keyring for this process; creates a key file on first use when no key is configured. */
export const loadKeyring = (home: string, env: NodeJS.ProcessEnv = process.env): MasterKeys => {
  if (env.KEYWAY_MASTER_KEY) {
    const current = parseKey(env.KEYWAY_MASTER_KEY, "KEYWAY_MASTER_KEY")
    const previous = (env.KEYWAY_PREVIOUS_MASTER_KEYS ?? "")
      .split(",")
      .filter((text) => text.trim() !== "")
      .map((text) => parseKey(text, "KEYWAY_PREVIOUS_MASTER_KEYS"))
    const byId = new Map([...previous, current].map((key) => [keyId(key), key] as const))
    return { current: { id: keyId(current), key: current }, byId, source: "environment" }
  }
  ensureHome(home, (detail) => new MasterKeyProblem({ detail }))
  const dir = keysDir(home)
  refuseKeyLink(dir, "keys")
  refuseKeyLink(join(dir, "current"), "keys/current")
  if (!existsSync(join(dir, "current"))) createFirstKey(dir)
  const byId = new Map<string, Buffer>()
  for (const file of readdirSync(dir).filter((name) => KEY_FILE.test(name))) {
    const text = readKeyFileIfPresent(join(dir, file), `keys/${file}`)
    // Gone since it was listed: a first use that lost the race to name `current` removed its own
    // key, which nothing was sealed with. A missing current key is still refused, below.
    if (text !== undefined) byId.set(file.slice(0, -4), parseKey(text, `key file ${file}`))
  }
  const currentId = readKeysFile(join(dir, "current"), "keys/current").trim()
  const key = byId.get(currentId)
  if (!key) throw new MasterKeyProblem({ detail: `the current master key ${currentId} is missing from ${dir}` })
  return { current: { id: currentId, key }, byId, source: "files" }
}

/** The keyring of `home` (or of the environment's keys), made on first use. */
export const keyringLayer = (
  home: string,
  env: NodeJS.ProcessEnv = process.env,
): Layer.Layer<Keyring, MasterKeyProblem> =>
  Layer.effect(
    Keyring,
    Effect.try({
      try: () => loadKeyring(home, env),
      catch: (error) =>
        error instanceof MasterKeyProblem
          ? error
          : new MasterKeyProblem({
              detail: `cannot read the master key in ${home}: ${error instanceof Error ? error.message : String(error)}`,
            }),
    }),
  )

/**
 * A new current key: its file first, then `current` replaced by a rename, so at every moment
 * `current` names a key file that exists. The old keys stay until nothing uses them.
 */
export const addKeyFile = (home: string): string => {
  const dir = keysDir(home)
  const id = writeKeyFile(dir, randomBytes(32))
  refuseKeyLink(join(dir, "current"), "keys/current")
  renameSync(writeTemporary(join(dir, "current"), id), join(dir, "current"))
  return id
}

/** Removes every key file but those in `keep`; the current key is always kept. */
export const retireKeys = (home: string, keep: ReadonlySet<string>): ReadonlyArray<string> => {
  const dir = keysDir(home)
  const current = readKeysFile(join(dir, "current"), "keys/current").trim()
  const retired = readdirSync(dir)
    .filter((name) => KEY_FILE.test(name))
    .map((name) => name.slice(0, -4))
    .filter((id) => id !== current && !keep.has(id))
  for (const id of retired) rmSync(join(dir, `${id}.key`))
  return retired
}

/**
 * What sealed credentials are bound to, as associated data: where the record lives (the workspace's
 * store namespace and the record's key) and what it says it is for (its connector and settings).
 * Moving a record, or editing its connector or a setting such as a server URL, makes it fail to
 * unseal: nobody can point stored credentials at another server.
 */
export interface SealedFor {
  readonly workspace: string
  readonly id: string
  readonly connector: string
  readonly settings: Readonly<Record<string, string>>
}

const associatedData = (sealed: Pick<Sealed, "v">, bound: SealedFor): Buffer =>
  Buffer.from(
    sealed.v === 1
      ? `${bound.workspace}/${bound.id}`
      : JSON.stringify([
          "keyway-record",
          `keyway-${bound.workspace}`,
          bound.id,
          bound.connector,
          Object.entries(bound.settings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        ]),
  )

export const seal = (keyring: MasterKeys, plaintext: string, bound: SealedFor): Sealed => {
  const iv = randomBytes(12)
  const cipher = createCipheriv("aes-256-gcm", keyring.current.key, iv)
  cipher.setAAD(associatedData({ v: 2 }, bound))
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return {
    v: 2,
    alg: "aes-256-gcm",
    kid: keyring.current.id,
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    data: data.toString("base64"),
  }
}

export const unseal = (keyring: MasterKeys, sealed: Sealed, bound: SealedFor): Either.Either<string, UnsealFailed> => {
  const key = keyring.byId.get(sealed.kid)
  if (!key) return Either.left(new UnsealFailed({ reason: "unknown_key", kid: sealed.kid }))
  try {
    // A fixed tag length: otherwise a truncated tag would be accepted, weakening authentication.
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"), { authTagLength: 16 })
    decipher.setAAD(associatedData(sealed, bound))
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64"))
    return Either.right(
      Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64")), decipher.final()]).toString("utf8"),
    )
  } catch {
    return Either.left(new UnsealFailed({ reason: "tampered", kid: sealed.kid }))
  }
}
