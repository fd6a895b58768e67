/**
 * Rotating the master key, so that nothing is lost however it ends:
 * 1. under the store-wide lock, so two rotations never run at once;
 * 2. a new current key file, written whole, then named current (with keys from the environment, the
 *    operator has already set the new key and listed the old ones in KEYWAY_PREVIOUS_MASTER_KEYS);
 * 3. every record of every workspace re-sealed under it, one atomic write per record;
 * 4. only then, the old key files that no record anywhere still uses are removed. The current key
 *    never is.
 *
 * Killed at any point, every record still opens: with the new key, or with a key still on file. A
 * second run finishes the job.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { resealEndpoints } from "./endpoint-secrets.ts"
import { type LockHeld, MasterKeyProblem, type StoreError } from "./errors.ts"
import { addKeyFile, Keyring, keyringLayer, loadKeyring, retireKeys, seal, unseal } from "./sealing.ts"
import { openStore, Store, type StoreConfig, storeLayer } from "./store.ts"

export interface Rotation {
  readonly keyId: string
  readonly resealed: number
  /** Webhook endpoints' signing secrets re-sealed with the records. */
  readonly resealedSecrets: number
  readonly workspaces: number
  /** Records that would not open (altered or moved): left as they are, and their keys kept. */
  readonly unopened: ReadonlyArray<string>
  /** Key files removed because no record uses them any more. */
  readonly retired: ReadonlyArray<string>
}

const keyFiles = <A>(run: () => A) =>
  Effect.try({
    try: run,
    catch: (error) =>
      error instanceof MasterKeyProblem
        ? error
        : new MasterKeyProblem({ detail: error instanceof Error ? error.message : String(error) }),
  })

/** Re-seals one workspace's records under the current key; returns what it did and the keys still used. */
const resealWorkspace = (config: StoreConfig, workspace: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const store = yield* openStore({ ...config, workspace })
      const keyring = yield* Keyring
      let resealed = 0
      const unopened: string[] = []
      const inUse = new Set<string>()
      const listing = yield* store.list()
      // A damaged record may still hold credentials under any key: keep every key while one is left.
      for (const { id } of listing.unreadable) unopened.push(`${workspace}/${id}`)
      const keepEveryKey = listing.unreadable.length > 0
      for (const record of listing.records) {
        const sealed = record.credentials
        if (sealed.kid === keyring.current.id && sealed.v === 2) continue
        // Bound to where the record is read from: one copied in from elsewhere does not open.
        const opened = unseal(keyring, sealed, { ...record, workspace })
        if (Either.isLeft(opened)) {
          unopened.push(`${workspace}/${record.id}`)
          inUse.add(sealed.kid)
          continue
        }
        yield* store.put({ ...record, credentials: seal(keyring, opened.right, { ...record, workspace }) })
        resealed++
      }
      // The workspace's webhook secrets are sealed with the same keys: re-sealed with them.
      const endpoints = yield* resealEndpoints(store, keyring, workspace)
      unopened.push(...endpoints.unopened)
      for (const kid of endpoints.inUse) inUse.add(kid)
      return { resealed, resealedSecrets: endpoints.resealed, unopened, inUse, keepEveryKey }
    }),
  )

export const rotateMasterKey = (
  config: StoreConfig,
  env: NodeJS.ProcessEnv,
): Effect.Effect<Rotation, MasterKeyProblem | StoreError | LockHeld> =>
  Effect.gen(function* () {
    const store = yield* Store
    return yield* store.withLock(
      "rotate-key",
      Effect.gen(function* () {
        const fromFiles = (yield* keyFiles(() => loadKeyring(config.home, env))).source === "files"
        if (fromFiles) yield* keyFiles(() => addKeyFile(config.home))
        const workspaces = [...new Set([config.workspace, ...(yield* store.workspaces())])].sort()
        const rotation = yield* Effect.gen(function* () {
          const keyring = yield* Keyring
          let resealed = 0
          let resealedSecrets = 0
          const unopened: string[] = []
          const inUse = new Set([keyring.current.id])
          let keepEveryKey = false
          for (const workspace of workspaces) {
            const done = yield* resealWorkspace(config, workspace)
            resealed += done.resealed
            resealedSecrets += done.resealedSecrets
            unopened.push(...done.unopened)
            for (const id of done.inUse) inUse.add(id)
            keepEveryKey ||= done.keepEveryKey
          }
          // Every record that opened is now under the current key: the others' keys stay on file.
          const retired = fromFiles && !keepEveryKey ? yield* keyFiles(() => retireKeys(config.home, inUse)) : []
          return {
            keyId: keyring.current.id,
            resealed,
            resealedSecrets,
            workspaces: workspaces.length,
            unopened,
            retired,
          }
        }).pipe(Effect.provide(keyringLayer(config.home, env)))
        return rotation
      }),
    )
  }).pipe(Effect.provide(storeLayer(config)))
