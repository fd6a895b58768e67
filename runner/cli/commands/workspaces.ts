/**
 * `keyway workspaces create <name>`: a workspace's API key for `keyway serve`'s API, printed once.
 * Only its hash is stored; a lost key is replaced by creating another.
 */
import * as Effect from "effect/Effect"
import { openServiceState } from "../../server/state.ts"
import { storeConfigFromEnv } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const options = {} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ positionals }, io) =>
  Effect.gen(function* () {
    const [action, name] = positionals
    if (action !== "create") return yield* usage("usage: keyway workspaces create <name>")
    if (!name || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name)) {
      return yield* usage("a workspace name is 1 to 64 letters, digits, - or _, starting with a letter or digit")
    }
    const state = yield* openServiceState(storeConfigFromEnv(io.env))
    const key = yield* state.createWorkspaceKey(name)
    if (io.json) printJson(io, { workspace: name, key })
    else {
      io.out(
        `Workspace ${name}: its API key, shown only this once (Keyway keeps only a hash):\n\n  ${key}\n\nSend it as Authorization: Bearer <key> to keyway serve's API.\n`,
      )
    }
    return EXIT.ok
  }).pipe(Effect.scoped)
