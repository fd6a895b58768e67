/**
 * `keyway rotate-key [--workspace W]`: a new master key, and every record re-sealed under it.
 * With KEYWAY_MASTER_KEY the operator rotates: set the new key, list the old one in
 * KEYWAY_PREVIOUS_MASTER_KEYS, and run this to re-seal every record.
 */

import { runPlain } from "../../library/index.ts"
import { resealAll } from "../../vault/connections.ts"
import { addKeyFile, loadKeyring, retireKeys } from "../../vault/sealing.ts"
import { openStore, storeConfigFromEnv } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, parseFlags, printJson } from "../io.ts"

export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values } = parseFlags(args, { workspace: { type: "string" } })
  const config = storeConfigFromEnv(process.env, values.workspace)
  const before = loadKeyring(config.home)
  const fromFiles = before.source === "files"
  if (fromFiles) addKeyFile(config.home)
  const keyring = loadKeyring(config.home)
  const store = await openStore(config)
  try {
    const count = await runPlain(resealAll({ store, keyring }))
    // Old key files go only once every record is re-sealed; a failure above keeps them.
    if (fromFiles) retireKeys(config.home, keyring.current.id)
    if (io.json) printJson(io, { keyId: keyring.current.id, resealed: count, workspace: config.workspace })
    else
      io.out(
        `Master key is now ${keyring.current.id}; re-sealed ${count} record${count === 1 ? "" : "s"} in workspace ${config.workspace}.\n`,
      )
    return EXIT.ok
  } finally {
    await store.close()
  }
}
