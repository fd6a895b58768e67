/**
 * A vendor host's limit for all keys together (`rateLimit.perHost`): every key's requests to that host
 * share one schedule under it. Against the sandbox's per-host token bucket, over real loopback HTTP.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import type { ConnectorDefinition } from "../core/definition.ts"
import { HostSlots, hostScheduleFor } from "../core/pacer.ts"
import { loadCatalog } from "../runner/catalog/load-now.ts"
import { createKeyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"

const HOST_PER_SECOND = 20
const KEYS = 12
const CHECKS_PER_KEY = 5

const activtrak = loadCatalog().get("activtrak") as ConnectorDefinition
const withHostLimit: ConnectorDefinition = {
  ...activtrak,
  rateLimit: { ...activtrak.rateLimit, perHost: { requests: HOST_PER_SECOND, seconds: 1 } },
}

let sandbox: Sandbox | undefined
afterEach(() => sandbox?.stop())

/** 60 checks over 12 keys, all at once: how many the host's bucket refused, and whether all passed. */
const checkAll = async (definition: ConnectorDefinition) => {
  sandbox = await startSandbox({ hostRateLimit: { requests: HOST_PER_SECOND, seconds: 1 } })
  const keyway = createKeyway({
    definitions: [definition],
    sandboxUrl: sandbox.url,
    store: { home: mkdtempSync(join(tmpdir(), "keyway-host-limit-")), url: undefined },
    env: {},
  })
  try {
    // One check first, then a clear window: a cold server admits its first requests late and bunched,
    // which a sliding window would blame on the client's pacing.
    await keyway.test({ connectorId: "activtrak", credentials: { apiKey: "sandbox-records-999" } })
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const results = await Promise.all(
      Array.from({ length: KEYS * CHECKS_PER_KEY }, (_, i) =>
        keyway.test({ connectorId: "activtrak", credentials: { apiKey: `sandbox-records-${1000 + (i % KEYS)}` } }),
      ),
    )
    return {
      throttled: sandbox.state.statusCounts.get(429) ?? 0,
      outcomes: new Set(results.map((result) => result.verdict.outcome)),
    }
  } finally {
    await keyway.close()
  }
}

describe("a vendor host's limit for all keys together", () => {
  it("is a schedule just under the stated limit, one per base URL origin", () => {
    expect(hostScheduleFor({ requests: 30, seconds: 1 }, new URL("https://api.example.com/v1"), 0.95)).toEqual({
      host: "https://api.example.com",
      intervalMs: 1000 / (30 * 0.95),
    })
    expect(hostScheduleFor(undefined, new URL("https://api.example.com/v1"))).toBeUndefined()
  })

  it("gives a free key the host's next free slot, not one past another key's far-off slot", () => {
    const slots = new HostSlots()
    // Key a goes now; its own pace (2 a second) holds its next request until 500.
    expect(slots.take(0, 0, 25)).toBe(0)
    expect(slots.take(500, 0, 25)).toBe(500)
    // Key b, free now, goes one host interval after a's first: the host is not idle until 525.
    expect(slots.take(0, 0, 25)).toBe(25)
    // A slot keeps a whole interval from each neighbour: 480 is 20 from a's 500, so it goes after a's;
    // 470 is 30 from it, so it stays where it is.
    expect(slots.take(480, 0, 25)).toBe(525)
    expect(slots.take(470, 0, 25)).toBe(470)
    expect(slots.take(460, 0, 25)).toBe(550)
  })

  it("never gives two requests slots closer than the interval, and gives each the first that fits", () => {
    const slots = new HostSlots()
    const taken: number[] = []
    let now = 0
    // 2,000 requests from keys free at scattered times, as the clock moves on.
    for (let i = 0; i < 2000; i++) {
      now += (i * 7919) % 13
      const earliest = now + ((i * 104_729) % 400)
      // The first time from `earliest` a whole interval from every slot taken: `earliest` itself, or
      // just after a slot; found here by trying each (a single "next free" time gives a later one).
      const fits = (at: number) => taken.every((slot) => Math.abs(at - slot) >= 10)
      const first = Math.min(
        ...[earliest, ...taken.map((slot) => slot + 10)].filter((at) => at >= earliest && fits(at)),
      )
      expect(slots.take(earliest, now, 10)).toBe(first)
      taken.push(first)
    }
    const sorted = [...taken].sort((a, b) => a - b)
    expect(Math.min(...sorted.slice(1).map((slot, index) => slot - (sorted[index] as number)))).toBeGreaterThanOrEqual(
      10,
    )
    // It keeps only the slots that can still crowd a new one: those from one interval back on.
    expect(slots.size).toBe(taken.filter((slot) => slot >= now - 10).length)
  })

  it("keeps 60 concurrent checks over 12 keys under the host's limit: none throttled, all connected", async () => {
    const run = await checkAll(withHostLimit)
    expect(run.throttled).toBe(0)
    expect([...run.outcomes]).toEqual(["connected"])
  }, 30_000)

  it("without it, the same checks run into the host's limit (each key's own pace knows nothing of the others)", async () => {
    const run = await checkAll(activtrak)
    expect(run.throttled).toBeGreaterThan(0)
  }, 60_000)
})
