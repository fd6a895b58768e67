// One contender of bench/save-and-test-concurrent.ts, alone in its own process, from the bundled dist/:
// a warm-up, then N checks at CONCURRENCY at once over the four connectors. Prints the time, the
// checks, the CPU time per check, the peak RSS and the open descriptors after the run as one JSON line.
import { readdirSync } from "node:fs"
import { keywayChecker, undiciClient } from "./contenders.mjs"

const [contender, origin, n, concurrency, checksJson] = process.argv.slice(2)
const N = Number(n)
const CHECKS = JSON.parse(checksJson)

let check
let close
if (contender === "keyway") {
  const keyway = await keywayChecker(origin)
  check = (c) => keyway.check(c.connector, c.credentials)
  close = keyway.close
} else {
  const client = await undiciClient()
  check = async (c) => {
    for (const path of c.paths) {
      const response = await client.request(`${origin}${path}`, {
        headers: { ...c.headers, accept: "application/json" },
      })
      JSON.parse(await response.body.text())
      if (response.statusCode !== 200) throw new Error(`${c.connector}: ${response.statusCode}`)
    }
  }
  close = client.close
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
const cpuBefore = process.cpuUsage()
const started = performance.now()
await pool(N)
const ms = performance.now() - started
const cpu = process.cpuUsage(cpuBefore)
const openDescriptors = readdirSync("/proc/self/fd").length
await close()
console.log(
  JSON.stringify({
    ms,
    units: N,
    cpuUsPerCheck: (cpu.user + cpu.system) / N,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    openDescriptors,
  }),
)
