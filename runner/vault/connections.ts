/**
 * Save & test, whole: test the credentials, then store them sealed. Nothing is lost:
 * - a new connection is saved only when its test passes, unless the caller asks otherwise;
 * - new credentials for an existing connection replace the stored ones only when they pass, so a
 *   typo never breaks a working connection.
 */
import { randomBytes } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { expiryAtSave } from "../../core/expiry.ts"
import { checkLabel, InvalidInput } from "../../core/fields.ts"
import type { CredentialInput } from "../../core/prepare.ts"
import { conceal, reveal, type Secret } from "../../core/redact.ts"
import { type Catalog, type DefinitionInvalid, findDefinition, type UnknownConnector } from "../catalog/catalog.ts"
import { type CheckOptions, type CheckResult, testCredentials } from "../check/check.ts"
import type { HttpEngine } from "../http/engine.ts"
import { ConnectionNotFound, type StoreError, UnsealFailed } from "./errors.ts"
import { Keyring, seal, unseal } from "./sealing.ts"
import { type ConnectionRecord, Store } from "./store.ts"

/** A connection as shown to people and programs: everything but the sealed credentials. */
export type ConnectionView = Omit<ConnectionRecord, "credentials" | "v">

export const view = ({ credentials: _sealed, v: _v, ...shown }: ConnectionRecord): ConnectionView => shown

/** What a record's credentials are sealed to: where it lives, and what it says. */
const sealedFor = (record: Pick<ConnectionRecord, "workspace" | "id" | "connector" | "settings">) => ({
  workspace: record.workspace,
  id: record.id,
  connector: record.connector,
  settings: record.settings,
})

const newId = (): string => `con_${randomBytes(8).toString("hex")}`

const lastTestOf = (result: CheckResult, by: string, at: string): ConnectionRecord["lastTest"] => ({
  at,
  by,
  verdict: result.verdict,
})

/** The plaintext that is sealed: the one place a stored credential is revealed on its way in. */
const plaintextOf = (credentials: Readonly<Record<string, Secret | undefined>>): string =>
  JSON.stringify(
    Object.fromEntries(
      Object.entries(credentials).flatMap(([key, value]) =>
        value === undefined || reveal(value) === "" ? [] : [[key, reveal(value)]],
      ),
    ),
  )

export interface ConnectInput extends CredentialInput {
  readonly label?: string
  /** Keep the connection even when its test fails (`--save-on-failure`). */
  readonly saveOnFailure?: boolean
  readonly tags?: ConnectionRecord["tags"]
  readonly endUser?: ConnectionRecord["endUser"]
}

export interface ConnectResult {
  readonly result: CheckResult
  readonly saved: boolean
  readonly connection: ConnectionView | undefined
}

export interface ConnectOptions extends CheckOptions {
  /** State to write in the same atomic write as the new record (the service's audit event), keyed as `putState`'s. */
  readonly alongside?: (
    saved: ConnectResult & { readonly connection: ConnectionView },
  ) => Readonly<Record<string, unknown>>
}

export const connect = (
  definition: ConnectorDefinition,
  input: ConnectInput,
  options: ConnectOptions = {},
): Effect.Effect<ConnectResult, InvalidInput | StoreError, HttpEngine | Store | Keyring> =>
  Effect.gen(function* () {
    const labelProblems = input.label === undefined ? [] : checkLabel(input.label)
    if (labelProblems.length > 0) return yield* Effect.fail(new InvalidInput({ problems: labelProblems }))
    const result = yield* testCredentials(definition, input, options)
    if (result.verdict.outcome !== "connected" && !input.saveOnFailure) {
      return { result, saved: false, connection: undefined }
    }
    const store = yield* Store
    const keyring = yield* Keyring
    const nowMs = yield* Clock.currentTimeMillis
    const now = new Date(nowMs).toISOString()
    const expiry = expiryAtSave(definition, input.expiresAt, nowMs)
    const id = newId()
    const workspace = store.workspace
    const settings = Object.fromEntries(
      Object.entries(input.settings ?? {}).filter((entry): entry is [string, string] => !!entry[1]),
    )
    const record: ConnectionRecord = {
      v: 1,
      id,
      workspace,
      connector: definition.id,
      label:
        input.label ??
        `${definition.name} ${result.fingerprints[Object.keys(result.fingerprints)[0] ?? ""] ?? ""}`.trim(),
      settings,
      credentials: seal(
        keyring,
        plaintextOf(input.credentials),
        sealedFor({ workspace, id, connector: definition.id, settings }),
      ),
      fingerprints: result.fingerprints,
      createdAt: now,
      updatedAt: now,
      lastTest: lastTestOf(result, "save & test", now),
      expiresAt: expiry?.date,
      ...(expiry?.source === "estimated" ? { expirySource: "estimated" as const } : {}),
      ...(input.tags ? { tags: input.tags } : {}),
      ...(input.endUser ? { endUser: input.endUser } : {}),
    }
    const saved = { result, saved: true, connection: view(record) }
    yield* store.put(record, options.alongside?.(saved))
    return saved
  })

/**
 * The record saved under `id` in this workspace. A record that says it is another id or belongs to
 * another workspace was copied or moved there: it is refused, never used.
 */
export const findConnection = (
  id: string,
): Effect.Effect<ConnectionRecord, StoreError | ConnectionNotFound | UnsealFailed, Store> =>
  Effect.flatMap(Store, (store) =>
    Effect.flatMap(store.get(id), (record): Effect.Effect<ConnectionRecord, ConnectionNotFound | UnsealFailed> => {
      if (!record) return Effect.fail(new ConnectionNotFound({ id }))
      if (record.id !== id || record.workspace !== store.workspace) {
        return Effect.fail(new UnsealFailed({ reason: "misplaced", kid: record.credentials.kid }))
      }
      return Effect.succeed(record)
    }),
  )

/** A record's credentials, unsealed straight into opaque values. */
export const openCredentials = (
  record: ConnectionRecord,
): Effect.Effect<Record<string, Redacted.Redacted<string>>, UnsealFailed, Keyring> =>
  Effect.flatMap(Keyring, (keyring) => {
    const opened = unseal(keyring, record.credentials, sealedFor(record))
    if (Either.isLeft(opened)) return Effect.fail(opened.left)
    const plain: Record<string, string> = JSON.parse(opened.right)
    return Effect.succeed(Object.fromEntries(Object.entries(plain).map(([key, value]) => [key, conceal(value)])))
  })

export interface RetestResult {
  readonly result: CheckResult
  /** New credentials were given, passed, and now replace the stored ones. */
  readonly replaced: boolean
  readonly connection: ConnectionView
}

/** New credentials for a saved connection: some or all of them, and their expiry when the customer knows it. */
export interface Replacement {
  readonly credentials: Readonly<Record<string, Secret>>
  readonly expiresAt?: string
}

export interface RetestOptions<E> extends CheckOptions {
  /**
   * Writes the updated record in place of the store's `put`: the service writes its audit event in
   * the same write. Not called when new credentials fail, since nothing of the record changes then.
   */
  readonly save?: (record: ConnectionRecord, outcome: RetestResult) => Effect.Effect<void, E>
}

/**
 * Re-tests a saved connection. With a `replacement`, tests the credentials with those replaced
 * instead, and stores them only when they pass; the stored credentials, their expiry and their last
 * outcome are untouched otherwise.
 */
export const retest = <E = never>(
  id: string,
  replacement: Replacement | undefined,
  options: RetestOptions<E> = {},
): Effect.Effect<
  RetestResult,
  ConnectionNotFound | UnsealFailed | InvalidInput | StoreError | UnknownConnector | DefinitionInvalid | E,
  HttpEngine | Store | Keyring | Catalog
> =>
  Effect.gen(function* () {
    const { save, ...checkOptions } = options
    const record = yield* findConnection(id)
    const definition = yield* findDefinition(record.connector)
    const stored = yield* openCredentials(record)
    const credentials = replacement ? { ...stored, ...replacement.credentials } : stored
    const nowMs = yield* Clock.currentTimeMillis
    // A new expiring credential has a new lifetime; one that is kept keeps its expiry.
    const renewsExpiry = definition.credentials.some((c) => c.expires && replacement?.credentials[c.key] !== undefined)
    const expiry =
      replacement?.expiresAt || renewsExpiry
        ? expiryAtSave(definition, replacement?.expiresAt, nowMs)
        : record.expiresAt
          ? { date: record.expiresAt, source: record.expirySource ?? "given" }
          : undefined
    const result = yield* testCredentials(
      definition,
      {
        connectorId: record.connector,
        credentials,
        settings: record.settings,
        ...(expiry ? { expiresAt: expiry.date, expirySource: expiry.source } : {}),
      },
      checkOptions,
    )
    if (replacement && result.verdict.outcome !== "connected") {
      // The new credentials failed: keep everything as it was. The caller reports the failure.
      return { result, replaced: false, connection: view(record) }
    }
    const keyring = yield* Keyring
    const now = new Date(nowMs).toISOString()
    const { expirySource: _previous, ...kept } = record
    const updated: ConnectionRecord = {
      ...kept,
      ...(replacement
        ? {
            credentials: seal(keyring, plaintextOf(credentials), sealedFor(record)),
            fingerprints: result.fingerprints,
          }
        : {}),
      expiresAt: expiry?.date,
      ...(expiry?.source === "estimated" ? { expirySource: "estimated" as const } : {}),
      updatedAt: now,
      lastTest: lastTestOf(result, replacement ? "re-test with new credentials" : "re-test", now),
    }
    const outcome = { result, replaced: replacement !== undefined, connection: view(updated) }
    yield* save ? save(updated, outcome) : (yield* Store).put(updated)
    return outcome
  })
