/**
 * What the commands that touch connections share: the catalog, a Keyway instance (pointed at the
 * sandbox with --sandbox), and the vault (store + master keys), each opened only when needed.
 */
import { loadCatalog } from "../catalog/catalog.ts"
import { createKeyway, type Keyway } from "../library/index.ts"
import type { Vault } from "../vault/connections.ts"
import { loadKeyring } from "../vault/sealing.ts"
import { openStore, storeConfigFromEnv } from "../vault/store.ts"
import { UsageError } from "./io.ts"

export interface Context {
  readonly keyway: Keyway
  readonly sandboxUrl: string | undefined
  readonly vault: () => Promise<Vault>
  readonly close: () => Promise<void>
}

export interface ContextFlags {
  readonly sandbox: boolean
  readonly workspace: string | undefined
}

/**
 * With `--sandbox`: KEYWAY_SANDBOX_URL if it is set (a sandbox already running), otherwise a sandbox
 * started in this process for the length of the command.
 */
export const openContext = async (flags: ContextFlags, env: NodeJS.ProcessEnv = process.env): Promise<Context> => {
  const closers: Array<() => Promise<void>> = []
  let sandboxUrl = flags.sandbox ? env.KEYWAY_SANDBOX_URL : undefined
  const catalog = loadCatalog()
  if (flags.sandbox && !sandboxUrl) {
    const { SANDBOX_VENDORS, startSandbox } = await import("../sandbox/server.ts")
    // Connectors with no hand-written fake get one derived from their definition.
    const sandbox = await startSandbox({ generic: [...catalog.values()].filter((d) => !(d.id in SANDBOX_VENDORS)) })
    closers.push(sandbox.stop)
    sandboxUrl = sandbox.url
  }
  const keyway = createKeyway({ catalog, sandboxUrl })
  closers.push(keyway.close)
  let vault: Promise<Vault> | undefined
  const config = storeConfigFromEnv(env, flags.workspace)
  return {
    keyway,
    sandboxUrl,
    vault: () => {
      vault ??= openStore(config).then((store) => {
        closers.push(store.close)
        return { store, keyring: loadKeyring(config.home, env) }
      })
      return vault
    },
    close: async () => {
      for (const close of closers.reverse()) await close()
    },
  }
}

/** `--setting k=v` pairs, as a record. */
export const parseSettings = (pairs: ReadonlyArray<string>): Record<string, string> => {
  const settings: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf("=")
    if (at < 1) throw new UsageError({ detail: `--setting takes key=value, not "${pair}"` })
    settings[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return settings
}
