/**
 * One rate budget per key across the fleet, in Redis: each request for a key takes the next slot of
 * one schedule that every worker shares (an atomic Lua script, on Redis's own clock so machines need
 * not agree on the time), and a vendor's wait seen by any worker holds the key for all of them until
 * it passes. A host with a stated limit (`rateLimit.perHost`) has one schedule for all its keys.
 * Keys are pacing keys (a hash of the credential and base URL), never a secret.
 */
import type { Redis } from "ioredis"
import type { SharedPacing } from "../http/engine.ts"

/**
 * Answers how long to wait: past the caller's own wait (ARGV[4]), the key's hold, the slot the key's
 * last request took and, when the host has a stated limit (ARGV[2] > 0), the host's first free slot
 * from then on. Both slots are taken in one step. A caller that knows the vendor's stated interval
 * (ARGV[3] = 1) shares it for a minute; a caller still learning the key's limit spaces its request
 * by that shared interval instead of its guess.
 *
 * The host's slots are a sorted set of the times taken, no two closer than its interval: that alone
 * keeps any window of the host's under its limit. A key that is free takes the first gap wide enough,
 * even before slots other keys took further ahead; a single "next free" time would have sent it past
 * the furthest, leaving the host idle while keys held by their own pace waited.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local hostInterval = tonumber(ARGV[2])
if ARGV[3] == '1' then
  redis.call('SET', KEYS[4], ARGV[1], 'PX', 60000)
else
  interval = math.max(interval, tonumber(redis.call('GET', KEYS[4]) or '0'))
end
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0')
local hold = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = math.max(now + tonumber(ARGV[4]), nextFree, hold)
if hostInterval > 0 then
  -- A slot more than an interval back cannot crowd one to come: every new slot is at now or later.
  -- (Written with format: Lua's own number-to-text keeps 14 digits, a tenth of a ms here.)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('(%.3f', now - hostInterval))
  local taken = redis.call('ZRANGEBYSCORE', KEYS[3], start - hostInterval, '+inf', 'WITHSCORES')
  for i = 2, #taken, 2 do
    local slot = tonumber(taken[i])
    if slot >= start + hostInterval then break end
    if slot > start - hostInterval then start = slot + hostInterval end
  end
  redis.call('ZADD', KEYS[3], start, string.format('%.3f', start))
  local last = tonumber(redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2])
  redis.call('PEXPIRE', KEYS[3], math.ceil(last - now) + 60000)
end
redis.call('SET', KEYS[1], tostring(start + interval), 'PX', math.ceil(start + interval - now) + 60000)
return math.floor(start - now)
`

/** Extends the key's hold to `delayMs` from now, never shortens it. */
const HOLD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs > current then
  redis.call('SET', KEYS[1], tostring(untilMs), 'PX', tonumber(ARGV[1]) + 1000)
end
return untilMs
`

export const redisPacing = (client: Redis): SharedPacing => ({
  reserve: async (key, pace) =>
    Number(
      await client.eval(
        RESERVE,
        4,
        `keyway-pace:${key}`,
        `keyway-hold:${key}`,
        `keyway-host-slots:${pace.host?.host ?? ""}`,
        `keyway-interval:${key}`,
        String(Math.ceil(pace.intervalMs)),
        // Fractional ms keep a host's rate exact: 30 a second is a slot every 33.3 ms, not 34.
        String(pace.host?.intervalMs ?? 0),
        pace.stated ? "1" : "0",
        String(Math.max(0, pace.notBeforeMs)),
      ),
    ),
  hold: async (key, delayMs) => {
    await client.eval(HOLD, 1, `keyway-hold:${key}`, String(Math.ceil(delayMs)))
  },
})
