/**
 * `keyway rotate-key`: a new master key, and every record of every workspace in the store re-sealed
 * under it; old key files go once no record uses them.
 * With KEYWAY_MASTER_KEY the operator rotates: set the new key, list the old one in
 * KEYWAY_PREVIOUS_MASTER_KEYS, and run this to re-seal every record.
 */
import * as Effect from "effect/Effect"
import { rotateMasterKey } from "../../vault/rotation.ts"
import { storeConfigFromEnv } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson, WORKSPACE_OPTION } from "../io.ts"
import type { CommandRun } from "../main.ts"
import { counted } from "../render.ts"

export const options = { workspace: WORKSPACE_OPTION } as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values }, io) =>
  Effect.gen(function* () {
    const config = storeConfigFromEnv(io.env, values.workspace)
    const rotation = yield* rotateMasterKey(config, io.env)
    const { keyId, resealed, resealedSecrets, workspaces, unopened, retired } = rotation
    if (io.json) printJson(io, rotation)
    else {
      io.out(
        `Master key is now ${keyId}; re-sealed ${counted(resealed, "record")} in ${counted(workspaces, "workspace")}` +
          `${resealedSecrets > 0 ? ` and ${counted(resealedSecrets, "webhook secret")}` : ""}` +
          `${retired.length > 0 ? `; retired ${counted(retired.length, "old key")}` : ""}.\n`,
      )
      for (const record of unopened) {
        io.err(`keyway: ${record} did not open (damaged, altered or moved): left as it is, and its key kept\n`)
      }
    }
    return EXIT.ok
  })
