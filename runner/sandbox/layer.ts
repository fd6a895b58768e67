/**
 * The sandbox service, from a running sandbox's URL (`KEYWAY_SANDBOX_URL`) or started for the
 * length of the scope. Connectors with no hand-written fake get one derived from their definition.
 * The fakes (msw and its dependencies, some 25 MB) load only when a sandbox is started here.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Catalog } from "../catalog/catalog.ts"
import type { SandboxOptions } from "./server.ts"
import { Sandbox } from "./service.ts"

/** The sandbox could not start: its port is taken, say. */
export class SandboxFailed extends Data.TaggedError("SandboxFailed")<{ readonly detail: string }> {
  override get message(): string {
    return `the sandbox could not start: ${this.detail}`
  }
}

export const sandboxLayer = (
  url: string | undefined,
  options: Omit<SandboxOptions, "generic"> = {},
): Layer.Layer<Sandbox, SandboxFailed, Catalog> =>
  url
    ? Layer.succeed(Sandbox, { url })
    : Layer.scoped(
        Sandbox,
        Effect.gen(function* () {
          const { definitions } = yield* (yield* Catalog).all
          const { derivedFakeDefinitions, startSandbox } = yield* Effect.promise(() => import("./server.ts"))
          const sandbox = yield* Effect.acquireRelease(
            Effect.tryPromise({
              try: () => startSandbox({ ...options, generic: derivedFakeDefinitions(definitions.values()) }),
              catch: (error) => new SandboxFailed({ detail: error instanceof Error ? error.message : String(error) }),
            }),
            (started) => Effect.promise(() => started.stop()),
          )
          return { url: sandbox.url }
        }),
      )
