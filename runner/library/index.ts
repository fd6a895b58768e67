/**
 * Keyway as a library, for services and sync jobs that embed it (`import { createKeyway } from
 * "keyway"`). It wraps the Effect functions in Promises over one shared runtime: one connection pool
 * and one set of pacers for every call, until `close()`. Effect users take the same pieces from
 * `keyway/effect` instead.
 *
 * A rejected Promise carries the typed error itself (`InvalidInput`, `ConnectionNotFound`,
 * `StoreUnavailable`, `SyncFailed`...), each with a `_tag` to match on.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { ConnectorDefinition } from "../../core/definition.ts"
import type { CredentialInput } from "../../core/prepare.ts"
import type { Secret } from "../../core/redact.ts"
import { type Catalog, catalogOf, findDefinition } from "../catalog/catalog.ts"
import { loadCatalog } from "../catalog/load-now.ts"
import {
  type CheckEnvironment,
  type CheckOptions,
  type CheckResult,
  runCheck,
  testCredentials,
} from "../check/check.ts"
import { effectRunner, engineLayer, HttpEngine } from "../http/engine.ts"
import { type TransportOptions, transportLayer } from "../http/transport.ts"
import { Sandbox } from "../sandbox/service.ts"
import { runSync, type SyncRequest, type SyncSummary } from "../sync/sync.ts"
import {
  type ConnectInput,
  type ConnectionView,
  type ConnectResult,
  connect,
  findConnection,
  type RetestResult,
  retest,
  view,
} from "../vault/connections.ts"
import { type Keyring, keyringLayer } from "../vault/sealing.ts"
import { Store, type StoreConfig, storeConfigFromEnv, storeLayer } from "../vault/store.ts"

export interface KeywayOptions {
  /** The definitions to use; by default every valid file in the project's `connectors/`. */
  readonly definitions?: Iterable<ConnectorDefinition>
  /** Send every request to this loopback sandbox instead of the vendors. */
  readonly sandboxUrl?: string
  readonly transport?: Partial<TransportOptions>
  /** Where connections are kept; by default `KEYWAY_HOME`, `KEYWAY_STORE` and `KEYWAY_WORKSPACE`. */
  readonly store?: Partial<StoreConfig>
  /** Where master keys come from (`KEYWAY_MASTER_KEY`...); by default `process.env`. */
  readonly env?: NodeJS.ProcessEnv
}

/** Every service the library provides to the Effects it runs. */
export type KeywayServices = HttpEngine | Catalog | Store | Keyring

export type CallOptions = CheckOptions

export interface Keyway {
  readonly catalog: ReadonlyMap<string, ConnectorDefinition>
  /** Save & test's check alone: nothing is stored. Rejects with `InvalidInput` before any request. */
  readonly test: (input: CredentialInput, options?: CallOptions) => Promise<CheckResult>
  /** Save & test: the check, then the credentials stored sealed when it passes. */
  readonly connect: (input: ConnectInput, options?: CallOptions) => Promise<ConnectResult>
  readonly connections: {
    readonly list: () => Promise<ReadonlyArray<ConnectionView>>
    readonly get: (id: string) => Promise<ConnectionView>
    /** Re-tests the stored credentials and records the verdict. */
    readonly test: (id: string, options?: CallOptions) => Promise<RetestResult>
    /** Tests new credentials; they replace the stored ones only when they pass. */
    readonly replace: (
      id: string,
      credentials: Readonly<Record<string, Secret>>,
      options?: CallOptions,
    ) => Promise<RetestResult>
    readonly remove: (id: string) => Promise<void>
  }
  /** Pulls a report stream from a saved connection into a sink, page by page. */
  readonly sync: (request: SyncRequest, options?: CallOptions) => Promise<SyncSummary>
  /** Runs any Keyway Effect with this instance's services. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, KeywayServices>, options?: CallOptions) => Promise<A>
  readonly close: () => Promise<void>
}

const valueOrThrow = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

const signalOf = (call: CallOptions | undefined) => (call?.signal ? { signal: call.signal } : undefined)

export const createKeyway = (options: KeywayOptions = {}): Keyway => {
  const catalog = new Map([...(options.definitions ?? loadCatalog().values())].map((d) => [d.id, d]))
  const env = options.env ?? process.env
  const config = { ...storeConfigFromEnv(env), ...options.store }
  const network = engineLayer.pipe(Layer.provide(transportLayer(options.transport)))
  const sandbox = options.sandboxUrl ? Layer.succeed(Sandbox, { url: options.sandboxUrl }) : Layer.empty
  const runtime = ManagedRuntime.make(Layer.mergeAll(network, catalogOf(catalog.values()), sandbox))
  // The vault (store and master keys) is built on the first call that needs it, over the same engine
  // and pacers: a check alone never touches KEYWAY_HOME.
  let vault: ManagedRuntime.ManagedRuntime<KeywayServices, unknown> | undefined
  const vaultRuntime = async () => {
    if (!vault) {
      const base = await runtime.runtime()
      vault = ManagedRuntime.make(
        Layer.mergeAll(storeLayer(config), keyringLayer(config.home, env), Layer.succeedContext(base.context)),
      )
    }
    return vault
  }
  // Save & test's check runs as plain code (`runCheck`), on this runtime's engine: built once.
  let environment: CheckEnvironment | undefined
  const checkEnvironment = async (): Promise<CheckEnvironment> => {
    if (!environment) {
      const base = await runtime.runtime()
      environment = {
        engine: Context.get(base.context, HttpEngine),
        sandboxUrl: options.sandboxUrl,
        ...effectRunner(base, Date.now),
      }
    }
    return environment
  }
  const run = async <A, E>(effect: Effect.Effect<A, E, KeywayServices>, call?: CallOptions): Promise<A> =>
    valueOrThrow(await (await vaultRuntime()).runPromiseExit(effect, signalOf(call)))
  const check = (call: CallOptions | undefined): CheckOptions => signalOf(call) ?? {}

  return {
    catalog,
    test: async (input, call) => {
      const definition = catalog.get(input.connectorId)
      // An unknown connector takes the Effect path, for the catalog's own typed error.
      if (!definition) {
        return valueOrThrow(
          await runtime.runPromiseExit(
            Effect.flatMap(findDefinition(input.connectorId), (found) => testCredentials(found, input, check(call))),
            signalOf(call),
          ),
        )
      }
      return runCheck(definition, input, await checkEnvironment(), check(call))
    },
    connect: (input, call) =>
      run(
        Effect.flatMap(findDefinition(input.connectorId), (definition) => connect(definition, input, check(call))),
        call,
      ),
    connections: {
      list: () =>
        run(Effect.flatMap(Store, (store) => Effect.map(store.list(), (listing) => listing.records.map(view)))),
      get: (id) => run(Effect.map(findConnection(id), view)),
      test: (id, call) => run(retest(id, undefined, check(call)), call),
      replace: (id, credentials, call) => run(retest(id, { credentials }, check(call)), call),
      remove: (id) =>
        run(
          Effect.flatMap(findConnection(id), (record) =>
            Effect.flatMap(Store, (store) => Effect.asVoid(store.remove(record.id))),
          ),
        ),
    },
    sync: (request, call) => run(runSync(request), call),
    run,
    close: async () => {
      await vault?.dispose()
      await runtime.dispose()
    },
  }
}

export type { ConnectorDefinition } from "../../core/definition.ts"
export type { Outcome, Verdict, VerdictCode } from "../../core/outcomes.ts"
export type { CredentialInput } from "../../core/prepare.ts"
export type { Secret } from "../../core/redact.ts"
export { verifyWebhook } from "../../core/webhook-signature.ts"
export type { CheckResult } from "../check/check.ts"
export type { Attempt } from "../http/engine.ts"
export { fileSink, type Sink, writableSink } from "../sync/sinks.ts"
export type { SyncProgress, SyncRequest, SyncSummary } from "../sync/sync.ts"
export type { ConnectInput, ConnectionView, ConnectResult, RetestResult } from "../vault/connections.ts"
export * from "./errors.ts"
