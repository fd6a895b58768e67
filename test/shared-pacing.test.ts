/**
 * The fleet's shared schedule (runner/fleet/shared-pacing.ts) on a real redis-server: a vendor host's
 * slots are shared by every key, no two closer than the host's interval, a key that is free takes
 * the host's first free slot wherever other keys' own paces have put theirs, and a slot is never
 * earlier than the process's own wait, so the schedule holds when each request really goes.
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
      client = new Redis(redis.url)
    })
    afterAll(async () => {
      client?.disconnect()
      await redis?.stop()
    })

    /** The host's slots as the schedule holds them, in order. */
    const slotsOf = async (host: string) =>
      (await client.zrange(`keyway-host-slots:${host}`, 0, -1, "WITHSCORES"))
        .filter((_, index) => index % 2 === 1)
        .map(Number)
    const gapsOf = (slots: ReadonlyArray<number>) =>
      slots.slice(1).map((slot, index) => slot - (slots[index] as number))

    it("gives a free key the host's next free slot, not one past another key's far-off slot", async () => {
      const pacing = redisPacing(client)
      const host = { host: "https://far-off.example.com", intervalMs: 200 }
      const pace = { intervalMs: 2000, stated: true, host, notBeforeMs: 0 }
      // Key a takes the host's first slot; its own stated pace (one request in 2 s) puts its next 2 s out.
      expect(await pacing.reserve("a", pace)).toBeLessThanOrEqual(1)
      expect(await pacing.reserve("a", pace)).toBeGreaterThanOrEqual(1500)
      // Key b is free now: it goes one host interval after a's first (less the time this test took),
      // not after a's second, as it did when the host had a single "next free" time (2,200 ms).
      expect(await pacing.reserve("b", pace)).toBeLessThanOrEqual(200)
      expect(Math.min(...gapsOf(await slotsOf(host.host)))).toBeGreaterThanOrEqual(200 - 1e-6)
    })

    it("takes no slot before the process's own wait, so the slot it holds is when the request goes", async () => {
      const pacing = redisPacing(client)
      const host = { host: "https://own-wait.example.com", intervalMs: 200 }
      const pace = (notBeforeMs: number) => ({ intervalMs: 0, stated: true, host, notBeforeMs })
      // x's own process holds it 350 ms (its key's pace there): its fleet slot is no earlier.
      expect(await pacing.reserve("x", pace(350))).toBeGreaterThanOrEqual(349)
      // y goes now, more than an interval before x; z, free 100 ms from now, fits neither beside y
      // nor beside x (the gap between them is under two intervals), and goes an interval after x.
      expect(await pacing.reserve("y", pace(0))).toBeLessThanOrEqual(1)
      expect(await pacing.reserve("z", pace(100))).toBeGreaterThanOrEqual(450)
      const slots = await slotsOf(host.host)
      expect(slots.length).toBe(3)
      expect(Math.min(...gapsOf(slots))).toBeGreaterThanOrEqual(200 - 1e-6)
    })

    it("never gives two requests to a host slots closer than its interval, and leaves the host no idle gap", async () => {
      const pacing = redisPacing(client)
      const host = { host: "https://busy.example.com", intervalMs: 10 }
      // 200 requests over 20 keys at once, each key with a pace of its own (20 to 153 ms): they interleave.
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          pacing.reserve(`key-${i % 20}`, { intervalMs: 20 + (i % 20) * 7, stated: true, host, notBeforeMs: 0 }),
        ),
      )
      const slots = await slotsOf(host.host)
      // Slots more than an interval in the past are let go as new ones are taken; the rest remain.
      expect(slots.length).toBeGreaterThan(150)
      expect(Math.min(...gapsOf(slots))).toBeGreaterThanOrEqual(10 - 1e-6)
      // Every key's requests fit in the host's 200 slots (the slowest key needs 9 × 153 ms), so none
      // is left waiting past them.
      expect((slots.at(-1) as number) - (slots[0] as number)).toBeLessThan(200 * 10 + 50)
    })
  },
)
