/**
 * The services a command runs with, as Layers: the catalog always; the exchange engine for commands
 * that talk to vendors; the sandbox with `--sandbox` (its fakes loaded only to start one); the vault (store and master
 * keys) for commands that keep connections. Each is built when its command starts and closed when it
 * ends.
 */
import * as Layer from "effect/Layer"
import { type Catalog, catalogFromDir, connectorsDir } from "../catalog/catalog.ts"
import { engineLayer, type HttpEngine } from "../http/engine.ts"
import { transportLayer } from "../http/transport.ts"
import { type SandboxFailed, sandboxLayer } from "../sandbox/layer.ts"
import type { MasterKeyProblem } from "../vault/errors.ts"
import { type Keyring, keyringLayer } from "../vault/sealing.ts"
import { type Store, storeConfigFromEnv, storeLayer } from "../vault/store.ts"

export interface ContextFlags {
  readonly sandbox: boolean
  readonly workspace: string | undefined
}

/**
 * With `--sandbox`: KEYWAY_SANDBOX_URL when it is set (a sandbox already running), otherwise a sandbox
 * started in this process for the length of the command. Its type provides nothing, because the
 * `Sandbox` service is optional: a check routes to it only when it is there.
 */
const sandbox = (flags: ContextFlags, env: NodeJS.ProcessEnv): Layer.Layer<never, SandboxFailed, Catalog> =>
  flags.sandbox ? sandboxLayer(env.KEYWAY_SANDBOX_URL) : Layer.empty

export const network = (
  flags: ContextFlags,
  env: NodeJS.ProcessEnv,
): Layer.Layer<HttpEngine | Catalog, SandboxFailed> =>
  Layer.mergeAll(engineLayer.pipe(Layer.provide(transportLayer())), sandbox(flags, env)).pipe(
    Layer.provideMerge(catalogFromDir(connectorsDir(env))),
  )

export const vault = (
  flags: Pick<ContextFlags, "workspace">,
  env: NodeJS.ProcessEnv,
): Layer.Layer<Store | Keyring, MasterKeyProblem> => {
  const config = storeConfigFromEnv(env, flags.workspace)
  return Layer.merge(storeLayer(config), keyringLayer(config.home, env))
}

/** Everything a command that talks to vendors and keeps connections needs. */
export const everything = (flags: ContextFlags, env: NodeJS.ProcessEnv) =>
  Layer.merge(network(flags, env), vault(flags, env))
