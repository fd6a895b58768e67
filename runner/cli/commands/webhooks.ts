/**
 * `keyway webhooks add <url>`: an endpoint for the workspace's events, signed as Standard Webhooks
 * describes; its `whsec_` secret is printed once and kept sealed. `keyway webhooks list` shows them.
 * `keyway webhooks rotate <endpoint> [--overlap 24h]` gives one a new secret, printed once; deliveries
 * carry a signature under each secret until the overlap ends.
 */
import * as Effect from "effect/Effect"
import { addEndpoint, type Endpoint, endpointUrlProblem, rotateEndpointSecret } from "../../fleet/webhooks.ts"
import { openServiceState } from "../../server/state.ts"
import { Keyring, keyringLayer } from "../../vault/sealing.ts"
import { storeConfigFromEnv } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { duration, type OptionSpecs, printJson, table, usage, WORKSPACE_OPTION } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const options = {
  workspace: WORKSPACE_OPTION,
  overlap: {
    type: "string",
    value: "DURATION",
    description: "for rotate: how long the old secret still signs, as 30m, 6h, 1d or 0 (default 24h)",
  },
} as const satisfies OptionSpecs

const USAGE = "usage: keyway webhooks add <url> | list | rotate <endpoint> [--overlap 24h]"

export const run: CommandRun<typeof options> = ({ values, positionals }, io) =>
  Effect.gen(function* () {
    const [action, target] = positionals
    const store = storeConfigFromEnv(io.env, values.workspace)
    const state = yield* openServiceState(store)
    if (action === "list") {
      const endpoints = (yield* state.storeFor(store.workspace).getState<Endpoint[]>("webhook-endpoints")) ?? []
      const now = Date.now()
      const shown = endpoints.map((e) => ({
        id: e.id,
        url: e.url,
        createdAt: e.createdAt,
        disabledAt: e.disabledAt ?? null,
        // The last moment an old secret still signs, while a rotation overlaps.
        rotatingUntil:
          (e.previous ?? [])
            .map((old) => old.until)
            .filter((until) => Date.parse(until) > now)
            .sort()
            .at(-1) ?? null,
      }))
      const stateOf = (e: (typeof shown)[number]) =>
        e.disabledAt
          ? "disabled (410)"
          : e.rotatingUntil
            ? `enabled, rotating: the old secret signs until ${e.rotatingUntil}`
            : "enabled"
      if (io.json) printJson(io, { endpoints: shown })
      else io.out(`${table([["ENDPOINT", "URL", "STATE"], ...shown.map((e) => [e.id, e.url, stateOf(e)])])}\n`)
      return EXIT.ok
    }
    if (action === "rotate" && target) {
      const overlapMs = yield* duration("overlap", values.overlap ?? "24h")
      const keyring = yield* Keyring
      const rotated = yield* Effect.promise(() =>
        rotateEndpointSecret(state, keyring, store.workspace, target, overlapMs),
      )
      if (!rotated) return yield* usage(`no webhook endpoint ${target} in workspace ${store.workspace}`)
      if (io.json) printJson(io, rotated)
      else
        io.out(
          `Endpoint ${rotated.id} has a new signing secret, shown only this once:\n\n  ${rotated.secret}\n\n${
            rotated.previousValidUntil
              ? `Until ${rotated.previousValidUntil}, each delivery is also signed with the old secret: switch your receiver over before then.`
              : "The old secret no longer signs anything."
          }\n`,
        )
      return EXIT.ok
    }
    const url = target
    if (action !== "add" || !url) return yield* usage(USAGE)
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
