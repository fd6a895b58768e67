// One contender of bench/save-and-test-concurrent.ts, alone in its own process, from the bundled dist/:
// a warm-up, then N checks at CONCURRENCY at once over the four connectors. Prints the time, the
// checks, the peak RSS and the open descriptors after the run as one JSON line.
import { mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const [contender, origin, n, concurrency, checksJson] = process.argv.slice(2)
const N = Number(n)
const CHECKS = JSON.parse(checksJson)

let check
let close = async () => {}
if (contender === "keyway") {
  const { createKeyway } = await import("../../dist/library/index.js")
  const keyway = createKeyway({
    sandboxUrl: origin,
    store: { home: mkdtempSync(join(tmpdir(), "keyway-concurrent-")), url: undefined },
    env: {},
  })
  check = async (c) => {
    const result = await keyway.test({ connectorId: c.connector, credentials: { ...c.credentials } })
    if (result.verdict.outcome !== "connected") throw new Error(`${c.connector}: ${result.verdict.outcome}`)
  }
  close = () => keyway.close()
} else {
  const { Agent, request } = await import("undici")
  // The transport's own agent options.
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 })
  check = async (c) => {
    for (const path of c.paths) {
      const response = await request(`${origin}${path}`, {
        dispatcher: agent,
        headers: { ...c.headers, accept: "application/json" },
      })
      JSON.parse(await response.body.text())
      if (response.statusCode !== 200) throw new Error(`${c.connector}: ${response.statusCode}`)
    }
  }
  close = () => agent.close()
}

const pool = async (count) => {
  let next = 0
  await Promise.all(
    Array.from({ length: Number(concurrency) }, async () => {
      while (next < count) await check(CHECKS[next++ % CHECKS.length])
    }),
  )
}
await pool(N) // warm-up, as many as measured
const started = performance.now()
await pool(N)
const ms = performance.now() - started
const openDescriptors = readdirSync("/proc/self/fd").length
await close()
console.log(JSON.stringify({ ms, units: N, peakRssMb: process.resourceUsage().maxRSS / 1024, openDescriptors }))
