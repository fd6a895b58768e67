/**
 * Save & test, whole: test the credentials, then store them sealed. Nothing is lost:
 * - a new connection is saved only when its test passes, unless the caller asks otherwise;
 * - new credentials for an existing connection replace the stored ones only when they pass, so a
 *   typo never breaks a working connection.
 */
import { randomBytes } from "node:crypto"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { type CredentialInput, type TestOptions, type TestResult, testCredentials } from "../check/check.ts"
import type { InvalidInput } from "../http/request.ts"
import type { HttpTransport } from "../http/transport.ts"
import { type Keyring, seal, type UnsealFailed, unseal } from "./sealing.ts"
import type { ConnectionRecord, ConnectionStore, StoreUnavailable } from "./store.ts"

export class ConnectionNotFound extends Data.TaggedError("ConnectionNotFound")<{ readonly id: string }> {
  override get message(): string {
    return `no connection "${this.id}" in this workspace; run keyway connections to list them`
  }
}

/** A connection as shown to people and programs: everything but the sealed credentials. */
export type ConnectionView = Omit<ConnectionRecord, "credentials" | "v">

export const view = ({ credentials: _sealed, v: _v, ...shown }: ConnectionRecord): ConnectionView => shown

export interface Vault {
  readonly store: ConnectionStore
  readonly keyring: Keyring
}

const boundTo = (record: { readonly workspace: string; readonly id: string }) => `${record.workspace}/${record.id}`

const newId = (): string => `con_${randomBytes(8).toString("hex")}`

const lastTestOf = (result: TestResult, by: string, at: Date) => ({
  outcome: result.outcome,
  at: at.toISOString(),
  message: result.message,
  by,
})

export interface ConnectInput extends CredentialInput {
  readonly label?: string
  /** Keep the connection even when its test fails (`--save-on-failure`). */
  readonly saveOnFailure?: boolean
}

export interface ConnectResult {
  readonly result: TestResult
  readonly saved: boolean
  readonly connection: ConnectionView | undefined
}

export const connect = (
  definition: ConnectorDefinition,
  input: ConnectInput,
  vault: Vault,
  options: TestOptions = {},
): Effect.Effect<ConnectResult, InvalidInput | StoreUnavailable, HttpTransport> =>
  Effect.gen(function* () {
    const result = yield* testCredentials(definition, input, options)
    if (result.outcome !== "connected" && !input.saveOnFailure) return { result, saved: false, connection: undefined }
    const now = options.now?.() ?? new Date()
    const id = newId()
    const workspace = vault.store.workspace
    const credentials = Object.fromEntries(Object.entries(input.credentials).filter(([, value]) => value))
    const record: ConnectionRecord = {
      v: 1,
      id,
      workspace,
      connector: definition.id,
      label:
        input.label ??
        `${definition.name} ${result.fingerprints[Object.keys(result.fingerprints)[0] ?? ""] ?? ""}`.trim(),
      settings: Object.fromEntries(
        Object.entries(input.settings ?? {}).filter((entry): entry is [string, string] => !!entry[1]),
      ),
      credentials: seal(vault.keyring, JSON.stringify(credentials), boundTo({ workspace, id })),
      fingerprints: result.fingerprints,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      lastTest: lastTestOf(result, "save & test", now),
      expiresAt: input.expiresAt,
    }
    yield* vault.store.put(record)
    return { result, saved: true, connection: view(record) }
  })

export const findConnection = (vault: Vault, id: string) =>
  Effect.flatMap(vault.store.get(id), (record) =>
    record ? Effect.succeed(record) : Effect.fail(new ConnectionNotFound({ id })),
  )

export const openCredentials = (
  vault: Vault,
  record: ConnectionRecord,
): Effect.Effect<Record<string, string>, UnsealFailed> => {
  const opened = unseal(vault.keyring, record.credentials, boundTo(record))
  return Either.isLeft(opened) ? Effect.fail(opened.left) : Effect.succeed(JSON.parse(opened.right))
}

export interface RetestResult {
  readonly result: TestResult
  /** New credentials were given, passed, and now replace the stored ones. */
  readonly replaced: boolean
  readonly connection: ConnectionView
}

/**
 * Re-tests a saved connection. With `newCredentials`, tests those instead, and stores them only when
 * they pass; the stored credentials and their last outcome are untouched otherwise.
 */
export const retest = (
  catalog: ReadonlyMap<string, ConnectorDefinition>,
  vault: Vault,
  id: string,
  newCredentials: Readonly<Record<string, string>> | undefined,
  options: TestOptions = {},
): Effect.Effect<RetestResult, ConnectionNotFound | UnsealFailed | InvalidInput | StoreUnavailable, HttpTransport> =>
  Effect.gen(function* () {
    const record = yield* findConnection(vault, id)
    const definition = catalog.get(record.connector)
    if (!definition) return yield* Effect.fail(new ConnectionNotFound({ id }))
    const stored = yield* openCredentials(vault, record)
    const credentials = newCredentials ? { ...stored, ...newCredentials } : stored
    const result = yield* testCredentials(
      definition,
      {
        connectorId: record.connector,
        credentials,
        settings: record.settings,
        ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}),
      },
      options,
    )
    const now = options.now?.() ?? new Date()
    if (newCredentials && result.outcome !== "connected") {
      // The new credentials failed: keep everything as it was. The caller reports the failure.
      return { result, replaced: false, connection: view(record) }
    }
    const updated: ConnectionRecord = {
      ...record,
      ...(newCredentials
        ? {
            credentials: seal(vault.keyring, JSON.stringify(credentials), boundTo(record)),
            fingerprints: result.fingerprints,
          }
        : {}),
      updatedAt: now.toISOString(),
      lastTest: lastTestOf(result, newCredentials ? "re-test with new credentials" : "re-test", now),
    }
    yield* vault.store.put(updated)
    return { result, replaced: newCredentials !== undefined, connection: view(updated) }
  })

/** Re-seals every record under the keyring's current key; returns how many were re-sealed. */
export const resealAll = (vault: Vault): Effect.Effect<number, StoreUnavailable | UnsealFailed> =>
  Effect.gen(function* () {
    let count = 0
    for (const record of yield* vault.store.list()) {
      if (record.credentials.kid === vault.keyring.current.id) continue
      const opened = unseal(vault.keyring, record.credentials, boundTo(record))
      if (Either.isLeft(opened)) return yield* Effect.fail(opened.left)
      yield* vault.store.put({ ...record, credentials: seal(vault.keyring, opened.right, boundTo(record)) })
      count++
    }
    return count
  })
