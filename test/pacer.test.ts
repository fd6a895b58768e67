/** The pacer in simulated time against the fakes' token bucket (see support/pacing-simulation.ts). */
import { describe, expect, it } from "vitest"
import { Pacer } from "../core/pacer.ts"
import { simulate } from "./support/pacing-simulation.ts"

describe("pacing against a token bucket (simulated time)", () => {
  // The rate-limit-efficiency benchmark's configuration: 3,000 pages at 50 requests/s, burst 10.
  for (const mode of ["none", "retry-after", "ratelimit", "x-ratelimit-delta"] as const) {
    it(`${mode}: at least 90% of the allowed rate, at most 5% of requests throttled`, () => {
      const result = simulate(mode, 3000, 50, 10)
      expect(result.achievedFraction).toBeGreaterThanOrEqual(0.9)
      expect(result.throttledShare).toBeLessThanOrEqual(0.05)
    })
  }

  it("with a stated limit, stays near it at any rate", () => {
    for (const [rate, burst] of [
      [20, 5],
      [200, 20],
    ] as const) {
      expect(simulate("ratelimit", 3000, rate, burst).achievedFraction).toBeGreaterThanOrEqual(0.9)
    }
  })

  it("a wait the vendor asks for blocks every request on that pacer", () => {
    const pacer = new Pacer()
    pacer.observe(1000, 429, (name) => (name === "retry-after" ? "30" : undefined))
    expect(pacer.delayFor(1000)).toBe(30_000)
    expect(pacer.reserve(2000)).toBe(29_000)
  })

  it("runs just under a stated IETF RateLimit-Policy", () => {
    const pacer = new Pacer()
    pacer.observe(0, 200, (name) =>
      name === "ratelimit-policy" ? '"default";q=60;w=1' : name === "ratelimit" ? '"default";r=50;t=1' : undefined,
    )
    expect(pacer.currentPhase).toBe("informed")
    expect(pacer.currentRate).toBeCloseTo(57, 5)
  })
})
