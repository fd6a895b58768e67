// The two save & test contenders the child processes share, from the bundled dist/: Keyway's library
// over a sandbox URL (the minimal server), and a raw undici Agent with the transport's own options.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** Keyway's `test`, which throws unless the verdict is connected. */
export const keywayChecker = async (origin) => {
  const { createKeyway } = await import("../../dist/library/index.js")
  const keyway = createKeyway({
    sandboxUrl: origin,
    store: { home: mkdtempSync(join(tmpdir(), "keyway-bench-")), url: undefined },
    env: {},
  })
  return {
    check: async (connectorId, credentials) => {
      const result = await keyway.test({ connectorId, credentials: { ...credentials } })
      if (result.verdict.outcome !== "connected") throw new Error(`${connectorId}: ${result.verdict.outcome}`)
    },
    close: () => keyway.close(),
  }
}

/** undici's `request` on one Agent, and the Agent's close. */
export const undiciClient = async () => {
  const { Agent, request } = await import("undici")
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 })
  return { request: (url, options) => request(url, { dispatcher: agent, ...options }), close: () => agent.close() }
}
