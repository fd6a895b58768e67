/**
 * The pacer against the fakes' own token bucket and wait headers, in simulated time: each request
 * takes `latencyMs`, 429s wait as the engine would (the vendor's header, or a paced backoff), and the
 * result is the achieved rate and the share of requests throttled.
 */
import { DEFAULT_PACER_OPTIONS, Pacer, type PacerOptions } from "../../core/pacer.ts"
import { requestedWait } from "../../core/rate-limit-headers.ts"
import type { WaitMode } from "../../fixtures/scenarios.ts"
import { TokenBucket } from "../../fixtures/token-bucket.ts"
import { quotaHeaders, throttleHeaders } from "../../fixtures/wait-headers.ts"

export const simulate = (
  mode: WaitMode,
  pages: number,
  perSecond: number,
  burst: number,
  latencyMs = 2,
  options: PacerOptions = DEFAULT_PACER_OPTIONS,
) => {
  const bucket = new TokenBucket({ perSecond, burst }, 0)
  const pacer = new Pacer(options)
  let now = 0
  let requests = 0
  let throttled = 0
  let done = 0
  let retries = 0
  while (done < pages) {
    now += pacer.reserve(now)
    requests++
    const taken = bucket.take(now)
    let headers: Record<string, string>
    if (taken.ok) {
      headers = quotaHeaders(
        mode,
        { remaining: taken.remaining, limit: perSecond, windowSeconds: 1, resetMs: bucket.msUntilFull(now) },
        now,
      )
    } else {
      headers = throttleHeaders(mode, { waitMs: taken.waitMs, limit: perSecond, windowSeconds: 1 }, now)
    }
    now += latencyMs
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
    const header = (name: string) => lower[name.toLowerCase()]
    pacer.observe(now, taken.ok ? 200 : 429, header)
    if (taken.ok) {
      done++
      retries = 0
    } else {
      throttled++
      const asked = requestedWait(header, now)?.delayMs
      now += asked ?? Math.max(20, 2000 / pacer.currentRate) * 2 ** retries++
    }
  }
  const physicalMinimumMs = ((pages - burst) / perSecond) * 1000
  return {
    achievedFraction: physicalMinimumMs / now,
    throttledShare: throttled / requests,
    seconds: now / 1000,
  }
}
