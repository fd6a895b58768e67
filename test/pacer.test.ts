/** The pacer against the fakes' token bucket, on the real engine in virtual time (support/pacing-simulation.ts). */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ENGINE_DEFAULTS } from "../core/defaults.ts"
import { Pacer, PacerRegistry, pacerKey } from "../core/pacer.ts"
import { readRateLimitHeaders } from "../core/rate-limit-headers.ts"
import { loadCatalog } from "../runner/catalog/load-now.ts"
import { testCredentials } from "../runner/check/check.ts"
import { HttpEngine } from "../runner/http/engine.ts"
import { startSandbox } from "../runner/sandbox/server.ts"
import { simulate } from "./support/pacing-simulation.ts"
import { checkServices } from "./support/services.ts"

const facts = (headers: Record<string, string>, now: number) => readRateLimitHeaders((name) => headers[name], now)

describe("pacing against a token bucket (the real engine, virtual time)", () => {
  // Thousands of simulated requests are CPU work: a generous guard, for a machine busy with the e2e tier.
  const SIMULATION_TIMEOUT_MS = 90_000
  // The rate-limit-efficiency benchmark's configuration: 50 requests/s, burst 10.
  for (const mode of ["none", "retry-after", "ratelimit", "x-ratelimit-delta"] as const) {
    it.effect(
      `${mode}: at least 90% of the allowed rate, at most 5% of requests throttled`,
      () =>
        Effect.gen(function* () {
          const result = yield* simulate(mode, 3000, 50, 10)
          expect(result.achievedFraction).toBeGreaterThanOrEqual(0.9)
          expect(result.throttledShare).toBeLessThanOrEqual(0.05)
        }),
      SIMULATION_TIMEOUT_MS,
    )
  }

  it.effect(
    "with a stated limit, stays near it at any rate",
    () =>
      Effect.gen(function* () {
        for (const [rate, burst] of [
          [20, 5],
          [200, 20],
        ] as const) {
          expect((yield* simulate("ratelimit", 3000, rate, burst)).achievedFraction).toBeGreaterThanOrEqual(0.9)
        }
      }),
    SIMULATION_TIMEOUT_MS,
  )

  it("paces nothing until a limit is stated or seen, so checks never wait on a guess", () => {
    const pacer = new Pacer()
    expect([pacer.reserve(0), pacer.reserve(0), pacer.reserve(0)]).toEqual([0, 0, 0])
    expect(pacer.intervalMs).toBe(0)
    pacer.observe(0, 429, facts({}, 0))
    expect(pacer.currentPhase).toBe("slow-start")
    expect(pacer.reserve(0)).toBeGreaterThan(0)
  })

  it("a sync starts finding the limit from its first request (slow start), before any 429", () => {
    const pacer = new Pacer()
    pacer.beginPacing()
    expect(pacer.reserve(0)).toBe(0)
    expect(pacer.reserve(0)).toBe(1000 / ENGINE_DEFAULTS.pacer.initialRate)
  })

  it("a wait the vendor asks for blocks every request on that pacer", () => {
    const pacer = new Pacer()
    pacer.observe(1000, 429, facts({ "retry-after": "30" }, 1000))
    expect(pacer.delayFor(1000)).toBe(30_000)
    expect(pacer.heldBy(1000)).toBe("retry-after-seconds")
    expect(pacer.reserve(2000)).toBe(29_000)
  })

  it("runs just under a stated IETF RateLimit-Policy", () => {
    const pacer = new Pacer()
    pacer.observe(0, 200, facts({ "ratelimit-policy": '"default";q=60;w=1', ratelimit: '"default";r=50;t=1' }, 0))
    expect(pacer.currentPhase).toBe("informed")
    expect(pacer.currentRate).toBeCloseTo(57, 5)
  })
})

describe("the pacer registry", () => {
  it("keeps at most maxPacers, forgetting the least recently used, never one just used", () => {
    const registry = new PacerRegistry(undefined, 3)
    const a = registry.for("a")
    registry.for("b")
    registry.for("c")
    expect(registry.for("a")).toBe(a) // a is now the most recently used
    registry.for("d") // forgets b, the least recently used
    expect(registry.size).toBe(3)
    expect(registry.for("a")).toBe(a)
    const c = registry.for("c")
    registry.for("e") // forgets d
    expect(registry.for("c")).toBe(c)
    expect(registry.size).toBe(3)
  })

  it("knows which base URLs have pacers, forgotten ones included", () => {
    const registry = new PacerRegistry(undefined, 2)
    expect(registry.pacesAny("https://a.example")).toBe(false)
    registry.for(pacerKey("https://a.example", "k1"))
    registry.for(pacerKey("https://a.example", "k2"))
    expect(registry.pacesAny("https://a.example")).toBe(true)
    expect(registry.pacesAny("https://a.example/v2")).toBe(false)
    registry.for(pacerKey("https://b.example", "k1")) // forgets a's k1; a still has k2
    expect(registry.pacesAny("https://a.example")).toBe(true)
    registry.for(pacerKey("https://b.example", "k2")) // forgets a's k2
    expect(registry.pacesAny("https://a.example")).toBe(false)
    expect(registry.pacesAny("https://b.example")).toBe(true)
  })

  it("stays bounded over 100,000 keys", () => {
    const registry = new PacerRegistry(undefined, 1000)
    for (let i = 0; i < 100_000; i++) registry.for(`key-${i}`)
    expect(registry.size).toBe(1000)
  })
})

describe("the engine's pacers", () => {
  it("a check that hears nothing of a limit keeps no pacer; a 429 makes one for its key alone", async () => {
    const sandbox = await startSandbox()
    try {
      const activtrak = loadCatalog().get("activtrak")
      if (!activtrak) throw new Error("no activtrak definition")
      const check = (apiKey: string) =>
        testCredentials(activtrak, { connectorId: "activtrak", credentials: { apiKey } })
      const program = Effect.gen(function* () {
        const engine = yield* HttpEngine
        for (let i = 0; i < 3; i++) expect((yield* check("sandbox-valid")).verdict.outcome).toBe("connected")
        expect(engine.pacers.size).toBe(0)
        // 429 with Retry-After: 1 once, then a pass: the key is now paced, and held back a second.
        const limited = yield* check("sandbox-429-retry-after-1")
        expect(limited.verdict.outcome).toBe("connected")
        expect(limited.attempts.map((a) => a.status)).toEqual([429, 200])
        expect(engine.pacers.size).toBe(1)
        expect((yield* check("sandbox-valid")).verdict.outcome).toBe("connected")
        expect(engine.pacers.size).toBe(1)
      })
      await Effect.runPromise(program.pipe(Effect.provide(checkServices(sandbox.url))))
    } finally {
      await sandbox.stop()
    }
  }, 20_000)
})
