/**
 * Rotating the master key: a new current key, every record re-sealed under it, and the old key files
 * retired only once that succeeded. With keys from the environment, the operator has already set the
 * new one (and listed the old in KEYWAY_PREVIOUS_MASTER_KEYS); this only re-seals.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { resealAll } from "./connections.ts"
import { MasterKeyProblem, type StoreUnavailable, type UnsealFailed } from "./errors.ts"
import { addKeyFile, Keyring, keyringLayer, loadKeyring, retireKeys } from "./sealing.ts"
import { type StoreConfig, storeLayer } from "./store.ts"

export const rotateMasterKey = (
  config: StoreConfig,
  env: NodeJS.ProcessEnv,
): Effect.Effect<{ keyId: string; resealed: number }, MasterKeyProblem | StoreUnavailable | UnsealFailed> =>
  Effect.gen(function* () {
    const keyFile = (run: () => void) =>
      Effect.try({
        try: run,
        catch: (error) =>
          error instanceof MasterKeyProblem
            ? error
            : new MasterKeyProblem({ detail: error instanceof Error ? error.message : String(error) }),
      })
    let fromFiles = false
    yield* keyFile(() => {
      fromFiles = loadKeyring(config.home, env).source === "files"
      if (fromFiles) addKeyFile(config.home)
    })
    return yield* Effect.gen(function* () {
      const keyring = yield* Keyring
      const resealed = yield* resealAll
      // Old key files go only once every record is re-sealed; a failure above keeps them.
      if (fromFiles) yield* keyFile(() => retireKeys(config.home, keyring.current.id))
      return { keyId: keyring.current.id, resealed }
    }).pipe(Effect.provide(Layer.merge(storeLayer(config), keyringLayer(config.home, env))))
  })
