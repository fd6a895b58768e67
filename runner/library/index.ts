/**
 * The library API for services and sync jobs that embed Keyway. The Effect functions live in their
 * modules (`testCredentials`...); this wraps them in Promises over one shared transport, whose
 * connection pool lives until `close()`.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { loadCatalog } from "../catalog/catalog.ts"
import { type CredentialInput, type TestOptions, type TestResult, testCredentials } from "../check/check.ts"
import { InvalidInput } from "../http/request.ts"
import { type HttpTransport, type TransportOptions, transportLayer } from "../http/transport.ts"

export interface KeywayOptions extends TestOptions {
  readonly transport?: Partial<TransportOptions>
  /** Definitions by id; defaults to every valid file in connectors/. */
  readonly catalog?: ReadonlyMap<string, ConnectorDefinition>
}

export interface Keyway {
  readonly catalog: ReadonlyMap<string, ConnectorDefinition>
  /**
   * Save & test's check. Rejects with `InvalidInput` (every problem, by field) before any request.
   * Aborting `signal` stops it at once, mid-wait included.
   */
  readonly test: (input: CredentialInput, options?: { readonly signal?: AbortSignal }) => Promise<TestResult>
  readonly runtime: ManagedRuntime.ManagedRuntime<HttpTransport, never>
  readonly close: () => Promise<void>
}

export const definitionFor = (
  catalog: ReadonlyMap<string, ConnectorDefinition>,
  connectorId: string,
): Effect.Effect<ConnectorDefinition, InvalidInput> => {
  const definition = catalog.get(connectorId)
  return definition
    ? Effect.succeed(definition)
    : Effect.fail(
        new InvalidInput({
          problems: [
            { field: "connector", message: `"${connectorId}" is not one of ${[...catalog.keys()].join(", ")}` },
          ],
        }),
      )
}

const valueOrThrow = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

/** Runs an effect as a Promise that rejects with the typed error itself, not a FiberFailure wrapper. */
export const runOrThrow = async <A, E>(
  runtime: ManagedRuntime.ManagedRuntime<HttpTransport, never>,
  effect: Effect.Effect<A, E, HttpTransport>,
  signal?: AbortSignal,
): Promise<A> => valueOrThrow(await runtime.runPromiseExit(effect, signal ? { signal } : undefined))

/** The same, for effects that need nothing (the store's, for instance). */
export const runPlain = async <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  valueOrThrow(await Effect.runPromiseExit(effect))

export const createKeyway = (options: KeywayOptions = {}): Keyway => {
  const catalog = options.catalog ?? loadCatalog()
  const runtime = ManagedRuntime.make(transportLayer(options.transport))
  return {
    catalog,
    runtime,
    test: (input, call) =>
      runOrThrow(
        runtime,
        Effect.flatMap(definitionFor(catalog, input.connectorId), (definition) =>
          testCredentials(definition, input, options),
        ),
        call?.signal,
      ),
    close: () => runtime.dispose(),
  }
}

export type { CredentialInput, TestResult } from "../check/check.ts"
export { InvalidInput, testCredentials }
