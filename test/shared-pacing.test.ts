/**
 * The fleet's shared schedule (runner/fleet/shared-pacing.ts) on a real redis-server: a vendor host's
 * slots are shared by every key, no two closer than the host's interval, and a key that is free takes
 * the host's first free slot, wherever other keys' own paces have put theirs.
 */
import { Redis } from "ioredis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { redisPacing } from "../runner/fleet/shared-pacing.ts"
import { findRedisServer, type RedisServer, startRedis } from "./support/redis.ts"

const redisBinary = findRedisServer()

describe.skipIf(!redisBinary)(
  `the fleet's shared schedule${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    let redis: RedisServer
    let client: Redis
    beforeAll(async () => {
      redis = await startRedis(redisBinary as string)
      client = new Redis(redis.url, { lazyConnect: false })
    })
    afterAll(async () => {
      client?.disconnect()
      await redis?.stop()
    })

    it("gives a free key the host's next free slot, not one past another key's far-off slot", async () => {
      const pacing = redisPacing(client)
      const host = { host: "https://far-off.example.com", intervalMs: 25 }
      // Key a takes the host's first slot; its own stated pace (2 a second) puts its next 500 ms out.
      expect(await pacing.reserve("a", { intervalMs: 500, stated: true, host })).toBeLessThanOrEqual(1)
      expect(await pacing.reserve("a", { intervalMs: 500, stated: true, host })).toBeGreaterThanOrEqual(490)
      // Key b is free now: its request goes one host interval after a's first, not after a's second.
      const b = await pacing.reserve("b", { intervalMs: 500, stated: true, host })
      expect(b).toBeLessThanOrEqual(25)
      // The three slots, in order: a's first, b's (25 ms after it, or later if this test ran slow), a's
      // second 500 ms out.
      const [first, second, third] = (await client.zrange(`keyway-host-slots:${host.host}`, 0, -1, "WITHSCORES"))
        .filter((_, index) => index % 2 === 1)
        .map(Number) as [number, number, number]
      expect(second - first).toBeGreaterThanOrEqual(25 - 1e-6)
      expect(third - second).toBeGreaterThanOrEqual(25 - 1e-6)
      expect(third - first).toBeGreaterThanOrEqual(499)
    })

    it("never gives two requests to a host slots closer than its interval", async () => {
      const pacing = redisPacing(client)
      const host = { host: "https://busy.example.com", intervalMs: 10 }
      // 200 requests over 20 keys at once, each key with a pace of its own: the slots interleave.
      const waits = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          pacing.reserve(`key-${i % 20}`, { intervalMs: 20 + (i % 20) * 7, stated: true, host }),
        ),
      )
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(0)
      // What the host's schedule holds: every slot taken, in order; none closer to the next than 10 ms.
      const taken = (await client.zrange(`keyway-host-slots:${host.host}`, 0, -1, "WITHSCORES"))
        .filter((_, index) => index % 2 === 1)
        .map(Number)
      expect(taken.length).toBeGreaterThan(150)
      const gaps = taken.slice(1).map((slot, index) => slot - (taken[index] as number))
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(10 - 1e-6)
      // Free keys filled the gaps: the 200 slots span barely more than 200 intervals.
      expect((taken.at(-1) as number) - (taken[0] as number)).toBeLessThan(200 * 10 * 1.5)
    })
  },
)
