/**
 * `keyway rotate-key [--workspace W]`: a new master key, and every record re-sealed under it.
 * With KEYWAY_MASTER_KEY the operator rotates: set the new key, list the old one in
 * KEYWAY_PREVIOUS_MASTER_KEYS, and run this to re-seal every record.
 */
import * as Effect from "effect/Effect"
import { rotateMasterKey } from "../../vault/rotation.ts"
import { storeConfigFromEnv } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { parseFlags, printJson } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const run: CommandRun = (args, io) =>
  Effect.gen(function* () {
    const { values } = yield* parseFlags(args, { workspace: { type: "string" } })
    const config = storeConfigFromEnv(io.env, values.workspace)
    const { keyId, resealed } = yield* rotateMasterKey(config, io.env)
    if (io.json) printJson(io, { keyId, resealed, workspace: config.workspace })
    else
      io.out(
        `Master key is now ${keyId}; re-sealed ${resealed} record${resealed === 1 ? "" : "s"} in workspace ${config.workspace}.\n`,
      )
    return EXIT.ok
  })
