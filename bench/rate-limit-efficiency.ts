/**
 * rate-limit-efficiency: the sandbox enforces a token bucket (50 requests/s, burst 10) per key, and a
 * sync pulls 3,000 pages (one record each). Measured, in three fake modes (no wait headers;
 * Retry-After only; IETF RateLimit headers): the achieved request rate as a fraction of the allowed
 * rate, the share of requests that got a 429, and total time against the physical minimum
 * ((pages - burst) / rate).
 *
 * Keyway's sync runner (paced) runs the full 3,000 pages. The baselines, axios-retry's exponential
 * backoff and a fixed 3 s × 2^n backoff with no jitter, run against a fresh key for at most
 * BASELINE_SECONDS, since they can take many minutes; their rates are measured over that window.
 *
 *   npm run bench -- rate-limit-efficiency        (PAGES=... RATE=... BURST=... to change)
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { request } from "undici"
import { ENGINE_DEFAULTS } from "../core/defaults.ts"
import type { ConnectorDefinition } from "../core/definition.ts"
import { loadCatalog } from "../runner/catalog/load-now.ts"
import { makeAgent } from "../runner/http/transport.ts"
import { createKeyway } from "../runner/library/index.ts"
import type { Sink } from "../runner/sync/sinks.ts"
import { machine, resultsDir } from "./harness.ts"
import { fixedBackoffMs, sleep, typicalAxios } from "./support/baselines.ts"
import { startSandboxProcess } from "./support/sandbox-process.ts"

const PAGES = Number(process.env.PAGES ?? 3000)
const RATE = Number(process.env.RATE ?? 50)
const BURST = Number(process.env.BURST ?? 10)
const BASELINE_SECONDS = Number(process.env.BASELINE_SECONDS ?? 8)
const MODES = ["none", "retry-after", "ratelimit"] as const

interface Outcome {
  readonly contender: string
  readonly mode: string
  readonly pages: number
  readonly requests: number
  readonly throttled: number
  readonly seconds: number
}

const physicalMinimum = (pages: number) => Math.max(0, pages - BURST) / RATE
const row = (o: Outcome) => ({
  mode: o.mode,
  contender: o.contender,
  pages: o.pages,
  "achieved rate": `${((o.pages / o.seconds / RATE) * 100).toFixed(1)}%`,
  "429 share": `${((o.throttled / o.requests) * 100).toFixed(2)}%`,
  "time / minimum": (o.seconds / physicalMinimum(o.pages)).toFixed(2),
})

const viewUrl = (base: string, key: string, start: number) =>
  `${base}/trackvia/openapi/views/341?user_key=sandbox-valid&start=${start}&max=1&access_token=${key}`

const results: Outcome[] = []
const home = mkdtempSync(join(tmpdir(), "keyway-bench-rate-"))
for (const mode of MODES) {
  const sandbox = await startSandboxProcess(["--rate", String(RATE), "--burst", String(BURST), "--mode", mode])
  // Keyway: a sync of TrackVia view records, one record per page, paced by the engine.
  const trackvia = loadCatalog().get("trackvia") as ConnectorDefinition
  const onePerPage: ConnectorDefinition = {
    ...trackvia,
    reports: trackvia.reports?.map((s) =>
      s.id === "viewRecords" && s.paging.kind === "offset" ? { ...s, paging: { ...s.paging, limit: 1 } } : s,
    ),
  }
  const keyway = createKeyway({
    sandboxUrl: sandbox.url,
    definitions: [onePerPage],
    store: { home, url: undefined, workspace: mode },
    env: {},
  })
  try {
    const { connection } = await keyway.connect({
      connectorId: "trackvia",
      credentials: { apiKey: "sandbox-valid", authToken: `sandbox-records-${PAGES}` },
    })
    // The connect's own test request used a token; let the bucket refill before timing the sync.
    await sleep((BURST / RATE) * 1000 + 100)
    const discard: Sink = {
      describe: "discard",
      partial: undefined,
      write: async () => {},
      position: () => undefined,
      commit: async () => {},
      abort: async () => {},
    }
    const started = performance.now()
    const summary = await keyway.sync({
      connectionId: connection?.id as string,
      streamId: "viewRecords",
      params: { viewId: "341" },
      openSink: async () => discard,
    })
    const seconds = (performance.now() - started) / 1000
    results.push({
      contender: "keyway (paced)",
      mode,
      pages: summary.pages,
      requests: summary.pages + summary.waits,
      throttled: summary.waits,
      seconds,
    })
    console.log(row(results.at(-1) as Outcome))

    // axios + axios-retry, as a typical integration pages: as fast as it can, retrying 429s.
    const client = typicalAxios()
    let throttled = 0
    client.interceptors.response.use(undefined, (error) => {
      if (error?.response?.status === 429) throttled++
      return Promise.reject(error)
    })
    const axiosKey = `sandbox-records-${PAGES}-axios`
    let pages = 0
    let requests = 0
    const axiosStart = performance.now()
    client.interceptors.request.use((config) => {
      requests++
      return config
    })
    while (pages < PAGES && performance.now() - axiosStart < BASELINE_SECONDS * 1000) {
      try {
        await client.get(viewUrl(sandbox.url, axiosKey, pages))
        pages++
      } catch {
        // retries exhausted: go on, as a loop around axios-retry would
      }
    }
    results.push({
      contender: "axios-retry",
      mode,
      pages,
      requests,
      throttled,
      seconds: (performance.now() - axiosStart) / 1000,
    })
    console.log(row(results.at(-1) as Outcome))

    // Fixed 3 s × 2^n backoff, no jitter, no pacing.
    const agent = makeAgent(ENGINE_DEFAULTS.transport)
    const fixedKey = `sandbox-records-${PAGES}-fixed`
    let fixedPages = 0
    let fixedRequests = 0
    let fixedThrottled = 0
    let consecutive = 0
    const fixedStart = performance.now()
    while (fixedPages < PAGES && performance.now() - fixedStart < BASELINE_SECONDS * 1000) {
      fixedRequests++
      const response = await request(viewUrl(sandbox.url, fixedKey, fixedPages), { dispatcher: agent })
      await response.body.text()
      if (response.statusCode === 429) {
        fixedThrottled++
        // Its backoff, but never past the end of its time box.
        await sleep(
          Math.min(
            fixedBackoffMs(consecutive++),
            Math.max(0, fixedStart + BASELINE_SECONDS * 1000 - performance.now()),
          ),
        )
      } else {
        consecutive = 0
        fixedPages++
      }
    }
    await agent.destroy()
    results.push({
      contender: "fixed 3 s × 2^n",
      mode,
      pages: fixedPages,
      requests: fixedRequests,
      throttled: fixedThrottled,
      seconds: (performance.now() - fixedStart) / 1000,
    })
    console.log(row(results.at(-1) as Outcome))
  } finally {
    await keyway.close()
    sandbox.child.kill()
  }
}
console.log(
  `\nrate-limit-efficiency: ${PAGES} pages, ${RATE} requests/s, burst ${BURST}; baselines timed for at most ${BASELINE_SECONDS} s`,
)
console.table(results.map(row))
mkdirSync(resultsDir(), { recursive: true })
writeFileSync(
  join(resultsDir(), "rate-limit-efficiency.json"),
  `${JSON.stringify({ name: "rate-limit-efficiency", machine: machine(), pages: PAGES, rate: RATE, burst: BURST, results: results.map((r) => ({ ...r, ...row(r) })) }, null, 2)}\n`,
)
