/**
 * save-and-test-sequential: N save & test checks (valid key) against the ActivTrak fake, one after
 * another, against (a) raw `undici.request` on an Agent with the same options, sending the same request
 * and checking the status, and (b) axios with axios-retry. All run in this process, alternating, after
 * a warm-up.
 *
 *   npm run bench -- save-and-test-sequential        (N=2000 by default; N=... to change)
 */
import { type Agent, request } from "undici"
import { ENGINE_DEFAULTS } from "../core/defaults.ts"
import { makeAgent } from "../runner/http/transport.ts"
import { createKeyway } from "../runner/library/index.ts"
import { startSandbox } from "../runner/sandbox/server.ts"
import { compare, report } from "./harness.ts"
import { typicalAxios } from "./support/baselines.ts"

const N = Number(process.env.N ?? 2000)
const sandbox = await startSandbox({ records: 1 })
const keyway = createKeyway({ sandboxUrl: sandbox.url })
const agent: Agent = makeAgent(ENGINE_DEFAULTS.transport)
const today = new Date().toISOString().slice(0, 10)
const week = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10)
const url = `${sandbox.baseUrls.activtrak}/reports/v2/workinghours/users?from=${week}&to=${today}&pageSize=1`
const client = typicalAxios()

try {
  const stats = await compare(
    [
      {
        name: "keyway save & test",
        run: async () => {
          for (let i = 0; i < N; i++) {
            const result = await keyway.test({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
            if (result.verdict.outcome !== "connected") throw new Error(`unexpected ${result.verdict.outcome}`)
          }
          return N
        },
      },
      {
        name: "raw undici.request",
        run: async () => {
          for (let i = 0; i < N; i++) {
            const response = await request(url, {
              dispatcher: agent,
              headers: { "x-api-key": "sandbox-valid", accept: "application/json" },
            })
            const body = await response.body.text()
            if (response.statusCode !== 200 || !Array.isArray(JSON.parse(body).activity)) throw new Error("unexpected")
          }
          return N
        },
      },
      {
        name: "axios + axios-retry",
        run: async () => {
          for (let i = 0; i < N; i++) {
            const response = await client.get(url, {
              headers: { "x-api-key": "sandbox-valid", accept: "application/json" },
            })
            if (response.status !== 200 || !Array.isArray(response.data.activity)) throw new Error("unexpected")
          }
          return N
        },
      },
    ],
    { rounds: Number(process.env.ROUNDS ?? 3), warmup: 1 },
  )
  const [keywayStats] = stats
  report("save-and-test-sequential", stats, {
    checks: N,
    keywayMedianRoundTripMs: keywayStats ? Number((keywayStats.medianMs / N).toFixed(3)) : null,
  })
} finally {
  await keyway.close()
  await agent.destroy()
  await sandbox.stop()
}
