/**
 * `keyway webhooks add <url>`: an endpoint for the workspace's events, signed as Standard Webhooks
 * describes; its `whsec_` secret is printed once and kept sealed. `keyway webhooks list` shows them.
 */
import * as Effect from "effect/Effect"
import { addEndpoint, type Endpoint, endpointUrlProblem } from "../../fleet/webhooks.ts"
import { openServiceState } from "../../server/state.ts"
import { Keyring, keyringLayer } from "../../vault/sealing.ts"
import { storeConfigFromEnv } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson, table, usage, WORKSPACE_OPTION } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const options = { workspace: WORKSPACE_OPTION } as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values, positionals }, io) =>
  Effect.gen(function* () {
    const [action, url] = positionals
    const store = storeConfigFromEnv(io.env, values.workspace)
    const state = yield* openServiceState(store)
    if (action === "list") {
      const endpoints = (yield* state.storeFor(store.workspace).getState<Endpoint[]>("webhook-endpoints")) ?? []
      const shown = endpoints.map((e) => ({
        id: e.id,
        url: e.url,
        createdAt: e.createdAt,
        disabledAt: e.disabledAt ?? null,
      }))
      if (io.json) printJson(io, { endpoints: shown })
      else
        io.out(
          `${table([["ENDPOINT", "URL", "STATE"], ...shown.map((e) => [e.id, e.url, e.disabledAt ? "disabled (410)" : "enabled"])])}\n`,
        )
      return EXIT.ok
    }
    if (action !== "add" || !url) return yield* usage("usage: keyway webhooks add <url> | list")
    const problem = endpointUrlProblem(url)
    if (problem) return yield* usage(`${url}: ${problem}`)
    const keyring = yield* Keyring
    const added = yield* Effect.promise(() => addEndpoint(state, keyring, store.workspace, url))
    if (io.json) printJson(io, added)
    else {
      io.out(
        `Endpoint ${added.id} for ${url}. Its signing secret, shown only this once:\n\n  ${added.secret}\n\nCheck each delivery with verifyWebhook(secret, headers, body) from the keyway library.\n`,
      )
    }
    return EXIT.ok
  }).pipe(Effect.provide(keyringLayer(storeConfigFromEnv(io.env).home, io.env)), Effect.scoped)
