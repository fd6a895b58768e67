import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SlidingWindow } from "../fixtures/sliding-window.ts"
import { TokenBucket } from "../fixtures/token-bucket.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"

describe("the fakes' token bucket", () => {
  it("allows a burst, then one request per 1/rate seconds, on a clock passed in", () => {
    const bucket = new TokenBucket({ perSecond: 50, burst: 10 }, 0)
    const burst = Array.from({ length: 10 }, () => bucket.take(0).ok)
    expect(burst.every(Boolean)).toBe(true)
    expect(bucket.take(0)).toEqual({ ok: false, waitMs: 20 })
    expect(bucket.take(10)).toEqual({ ok: false, waitMs: 10 })
    expect(bucket.take(20)).toEqual({ ok: true, remaining: 0 })
    // A long idle refills to the burst size, no further.
    expect(bucket.msUntilFull(20)).toBe(200)
    expect(bucket.take(10_000)).toEqual({ ok: true, remaining: 9 })
  })

  it("sustains exactly the configured rate over a simulated minute", () => {
    const bucket = new TokenBucket({ perSecond: 50, burst: 10 }, 0)
    let served = 0
    for (let ms = 0; ms <= 60_000; ms++) if (bucket.take(ms).ok) served++
    expect(served).toBe(10 + 50 * 60)
  })
})

describe("the sandbox with a token bucket per key", () => {
  let sandbox: Sandbox
  let clock = 1_000_000
  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: { perSecond: 5, burst: 3, mode: "ratelimit" }, now: () => clock })
  })
  afterAll(() => sandbox.stop())

  const hit = (key: string) =>
    fetch(`${sandbox.baseUrls.peopletray}/api/v2/powerbi/people`, { headers: { "X-API-Key": key } })

  it("throttles each key separately, with IETF RateLimit headers on successes and on the 429", async () => {
    const statuses = []
    const limits = []
    for (let i = 0; i < 4; i++) {
      const response = await hit("sandbox-records-1")
      statuses.push(response.status)
      limits.push(response.headers.get("ratelimit"))
      await response.arrayBuffer()
    }
    expect(statuses).toEqual([200, 200, 200, 429])
    expect(limits).toEqual(['"default";r=2;t=1', '"default";r=1;t=1', '"default";r=0;t=1', '"default";r=0;t=1'])
    // Another key has its own bucket.
    expect((await hit("sandbox-records-2")).status).toBe(200)
    // 200 ms later, at 5 per second, there is one token again.
    clock += 200
    expect((await hit("sandbox-records-1")).status).toBe(200)
  })
})

describe("the sandbox's vendor mode for ActivTrak", () => {
  it("sends Retry-After on some 429s and no wait header on others", async () => {
    const sandbox = await startSandbox({ rateLimit: { perSecond: 1, burst: 1, mode: "vendor" }, now: () => 0 })
    try {
      const retryAfter: Array<string | null> = []
      for (let i = 0; i < 21; i++) {
        const response = await fetch(`${sandbox.baseUrls.activtrak}/admin/v1/accounts/ping`, {
          headers: { "x-api-key": "sandbox-valid" },
        })
        if (i > 0) retryAfter.push(response.headers.get("retry-after"))
        await response.arrayBuffer()
      }
      expect(retryAfter).toContain("1")
      expect(retryAfter).toContain(null)
    } finally {
      await sandbox.stop()
    }
  })
})

describe("the sandbox's sliding window (a host's limit)", () => {
  it("admits at most N in any window, and says when the oldest leaves it", () => {
    const window = new SlidingWindow({ requests: 3, seconds: 1 })
    expect([0, 100, 200].map((t) => window.take(t).ok)).toEqual([true, true, true])
    expect(window.take(900)).toEqual({ ok: false, waitMs: 100 })
    expect(window.take(1000).ok).toBe(true)
    expect(window.take(1050)).toEqual({ ok: false, waitMs: 50 })
  })
})
