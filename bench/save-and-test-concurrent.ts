/**
 * save-and-test-concurrent: 20,000 save & test checks at concurrency 100, spread over the four
 * connectors, against (a) raw undici.request on an Agent with the same options and (b) axios with
 * axios-retry, each sending the same requests. Reports throughput, peak RSS, and the process's open
 * file descriptors (sockets included) after each round, which must not grow.
 *
 *   npm run bench -- save-and-test-concurrent        (N=... CONCURRENCY=... to change)
 */
import { readdirSync } from "node:fs"
import { request } from "undici"
import { ENGINE_DEFAULTS } from "../core/defaults.ts"
import { makeAgent } from "../runner/http/transport.ts"
import { createKeyway } from "../runner/library/index.ts"
import { startSandbox } from "../runner/sandbox/server.ts"
import { compare, report } from "./harness.ts"
import { typicalAxios } from "./support/baselines.ts"

const N = Number(process.env.N ?? 20_000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 100)
const sandbox = await startSandbox({ records: 1 })
const keyway = createKeyway({ sandboxUrl: sandbox.url })
const agent = makeAgent(ENGINE_DEFAULTS.transport)
const client = typicalAxios()
const today = new Date().toISOString().slice(0, 10)

/** The same four test requests Keyway sends, as plain URL + headers. */
const CHECKS = [
  {
    connector: "activtrak",
    credentials: { apiKey: "sandbox-valid" },
    url: `${sandbox.baseUrls.activtrak}/reports/v2/workinghours/users?from=${today}&to=${today}&pageSize=1`,
    headers: { "x-api-key": "sandbox-valid" },
  },
  {
    connector: "activityinfo",
    credentials: { apiToken: "sandbox-readonly" },
    url: `${sandbox.baseUrls.activityinfo}/resources/databases`,
    headers: { authorization: "Bearer sandbox-readonly" },
    // Keyway's token-scope probe: the baselines send it too, so all do the same requests.
    probe: `${sandbox.baseUrls.activityinfo}/resources/accounts/tokens`,
  },
  {
    connector: "peopletray",
    credentials: { apiKey: "sandbox-valid" },
    url: `${sandbox.baseUrls.peopletray}/api/v2/powerbi/people`,
    headers: { "x-api-key": "sandbox-valid" },
  },
  {
    connector: "trackvia",
    credentials: { apiKey: "sandbox-valid", authToken: "sandbox-valid" },
    url: `${sandbox.baseUrls.trackvia}/openapi/views?user_key=sandbox-valid`,
    headers: { authorization: "Bearer sandbox-valid" },
  },
] as const

const WARMUP = Math.max(1, Math.round(N / 10))

const pool = async (count: number, work: (index: number) => Promise<void>) => {
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await work(next++)
    }),
  )
  return count
}

const openDescriptors = () => readdirSync("/proc/self/fd").length
const fdsAfterRound: Record<string, number[]> = {}
/** A contender whose `work` runs `count` checks; the warm-up runs a tenth as many. */
const contender = (name: string, work: (index: number) => Promise<void>) => ({
  name,
  warmup: () => pool(WARMUP, work),
  run: async () => {
    const result = await pool(N, work)
    fdsAfterRound[name] = [...(fdsAfterRound[name] ?? []), openDescriptors()]
    return result
  },
})

try {
  const stats = await compare(
    [
      contender("keyway save & test", async (i) => {
        const check = CHECKS[i % CHECKS.length] as (typeof CHECKS)[number]
        const result = await keyway.test({ connectorId: check.connector, credentials: { ...check.credentials } })
        if (result.verdict.outcome !== "connected") throw new Error(`${check.connector}: ${result.verdict.outcome}`)
      }),
      contender("raw undici.request", async (i) => {
        const check = CHECKS[i % CHECKS.length] as (typeof CHECKS)[number]
        for (const url of "probe" in check ? [check.url, check.probe] : [check.url]) {
          const response = await request(url, {
            dispatcher: agent,
            headers: { ...check.headers, accept: "application/json" },
          })
          JSON.parse(await response.body.text())
          if (response.statusCode !== 200) throw new Error(`${check.connector}: ${response.statusCode}`)
        }
      }),
      contender("axios + axios-retry", async (i) => {
        const check = CHECKS[i % CHECKS.length] as (typeof CHECKS)[number]
        for (const url of "probe" in check ? [check.url, check.probe] : [check.url]) {
          const response = await client.get(url, { headers: { ...check.headers, accept: "application/json" } })
          if (response.status !== 200) throw new Error(`${check.connector}: ${response.status}`)
        }
      }),
    ],
    { rounds: Number(process.env.ROUNDS ?? 2), warmup: 1 },
  )
  const [keywayStats, undiciStats] = stats
  report("save-and-test-concurrent", stats, {
    checks: N,
    concurrency: CONCURRENCY,
    throughputRatioToUndici:
      keywayStats && undiciStats ? keywayStats.unitsPerSecond / undiciStats.unitsPerSecond : null,
    processPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    openDescriptorsAfterEachRound: fdsAfterRound,
  })
} finally {
  await keyway.close()
  await agent.destroy()
  await sandbox.stop()
}
