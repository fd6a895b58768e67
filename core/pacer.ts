/**
 * Pacing: the rate engine's proactive half. Retrying well after a 429 is not enough, since every 429
 * costs a wait the vendor sets; a pacer spaces requests so that few 429s happen at all. There is one
 * pacer per credential and host, shared by every request that uses them (save & test and syncs).
 *
 * - When the vendor states its limit (the IETF `RateLimit-Policy`, or `X-RateLimit-Limit` with a
 *   reset), the pacer runs just under it, and slows further as the remaining quota runs low.
 * - Until a vendor states a limit or shows one (a 429), a key's few save & test requests are not paced:
 *   spacing them against a limit nobody has seen would make pacing the floor of every check.
 * - Otherwise it finds the limit itself, from the first sync (many requests) or the first 429: a slow
 *   start that doubles the rate about every half second, then, after a 429, additive increase and
 *   multiplicative decrease (AIMD), probing upward slowly enough that 429s stay rare.
 * - A wait the vendor asks for blocks the pacer too, so no other request jumps the queue.
 *
 * Pure: the clock is passed in as `now` (ms), and headers arrive already read (`rate-limit-headers.ts`).
 */

import { ENGINE_DEFAULTS, type PacerDefaults } from "./defaults.ts"
import type { HostLimit } from "./definition.ts"
import type { RateLimitFacts, WaitSource } from "./rate-limit-headers.ts"

export type PacerOptions = PacerDefaults

export type PacerPhase = "unpaced" | "slow-start" | "recovering" | "steady" | "informed"

export class Pacer {
  private rate: number
  private phase: PacerPhase = "unpaced"
  private nextFree = 0
  private blockedUntil = 0
  /** The header whose wait set `blockedUntil`. */
  private blockedBy: WaitSource | undefined
  private lastSuccess = 0
  /** The last 429 came with a vendor-set wait: probing past the limit is costly, so probe slower. */
  private costly429 = false

  constructor(readonly options: PacerOptions = ENGINE_DEFAULTS.pacer) {
    this.rate = options.initialRate
  }

  get currentRate(): number {
    return this.rate
  }

  get currentPhase(): PacerPhase {
    return this.phase
  }

  /** Nothing about the vendor's limit is known yet: requests go at once, with no bookkeeping. */
  get unpaced(): boolean {
    return this.phase === "unpaced"
  }

  /** Starts finding the key's limit (a slow start), unless it is already being paced. */
  beginPacing(): void {
    if (this.phase === "unpaced") this.phase = "slow-start"
  }

  /** The spacing between this key's requests, in ms: none until a limit is stated or seen. */
  get intervalMs(): number {
    return this.phase === "unpaced" ? 0 : 1000 / this.rate
  }

  /** How long a request would wait now, without reserving anything. */
  delayFor(now: number): number {
    return Math.max(0, this.nextFree - now, this.blockedUntil - now)
  }

  /** What holds a request back now: a wait the vendor asked for (and its header), or just the pace. */
  heldBy(now: number): WaitSource | "pace" {
    return this.blockedBy !== undefined && this.blockedUntil - now >= this.nextFree - now ? this.blockedBy : "pace"
  }

  /**
   * How long to wait before sending; reserves that slot, so concurrent callers queue behind it.
   * `notBefore` is when another schedule (the vendor host's) frees its next slot.
   */
  reserve(now: number, notBefore = now): number {
    if (this.phase === "unpaced") return Math.max(0, notBefore - now)
    const start = Math.max(now, notBefore, this.nextFree, this.blockedUntil)
    this.nextFree = start + 1000 / this.rate
    return start - now
  }

  private clamp(rate: number): number {
    return Math.min(this.options.maxRate, Math.max(this.options.minRate, rate))
  }

  /** Learns from one response. */
  observe(now: number, status: number, facts: RateLimitFacts): void {
    const stated = facts.stated
    if (stated) {
      this.phase = "informed"
      // A stated limit is honoured as stated, however slow: no floor of our own under it.
      this.rate = Math.min(this.options.maxRate, stated.ratePerSecond * this.options.margin)
      // Quota spent: the next request goes when the window resets, or a slot later, whichever is sooner.
      if (stated.remaining === 0) {
        const untilReset = stated.resetSeconds === undefined ? Number.POSITIVE_INFINITY : stated.resetSeconds * 1000
        this.nextFree = Math.max(this.nextFree, now + Math.min(1000 / stated.ratePerSecond, untilReset))
      }
    }
    if (status === 429) {
      const wait = facts.wait
      if (wait && now + wait.delayMs >= this.blockedUntil) {
        this.blockedUntil = now + wait.delayMs
        this.blockedBy = wait.source
      }
      if (!stated && this.phase === "unpaced") {
        // The first sign of a limit: pace from here, starting slow.
        this.phase = "slow-start"
        this.costly429 = wait === undefined || wait.delayMs >= 500
        this.nextFree = Math.max(this.nextFree, now + 1000 / this.rate)
        return
      }
      if (!stated) {
        // A 429 ends the slow start, which doubled the rate every half second and so overshot
        // by up to twice: halve, as TCP does. After that the rate is near the limit: cut gently.
        const factor = this.phase === "slow-start" ? 0.5 : this.options.decrease
        this.rate = this.clamp(this.rate * factor)
        // Every 429 is expensive (a vendor-set wait, or a backoff of at least the declared delay):
        // settle at once, and probe upward slowly.
        this.phase = "steady"
        this.costly429 = wait === undefined || wait.delayMs >= 500
        this.nextFree = Math.max(this.nextFree, now + 1000 / this.rate)
      }
      return
    }
    if (status >= 200 && status < 300) {
      const elapsed = this.lastSuccess ? Math.min(1000, now - this.lastSuccess) / 1000 : 0
      this.lastSuccess = now
      if (this.phase === "slow-start") this.rate = this.clamp(this.rate * 2 ** (elapsed * 2))
      else if (this.phase === "recovering")
        this.rate = this.clamp(this.rate * (1 + 5 * this.options.probePerSecond * elapsed))
      else if (this.phase === "steady") {
        const probe = this.costly429
          ? this.options.probePerSecond / this.options.costlyProbeDivisor
          : this.options.probePerSecond
        this.rate = this.clamp(this.rate * (1 + probe * elapsed))
      }
    }
  }
}

/** A pacer's key: the base URL it paces at, and what tells one credential there from another. */
export const pacerKey = (baseUrl: string, credential: string): string => `${baseUrl}|${credential}`

/** The base URL a pacer's key paces at. */
const baseUrlOf = (key: string): string => key.slice(0, Math.max(0, key.lastIndexOf("|")))

/**
 * The pacers of one process, one per credential and host. The key never holds a secret. Bounded: a
 * long-running server sees unboundedly many keys, so past `maxPacers` the least recently used pacer is
 * forgotten. Forgetting costs at most a relearned rate, or one 429 if its key was still held back.
 */
export class PacerRegistry {
  private readonly pacers = new Map<string, Pacer>()
  /** Pacers kept per base URL: a check looks its own up (hashing its key) only where there are some. */
  private readonly perBaseUrl = new Map<string, number>()

  constructor(
    readonly options: PacerOptions = ENGINE_DEFAULTS.pacer,
    readonly maxPacers: number = ENGINE_DEFAULTS.maxPacers,
  ) {}

  get size(): number {
    return this.pacers.size
  }

  /** Whether a pacer is kept for any key at `baseUrl`. */
  pacesAny(baseUrl: string): boolean {
    return this.perBaseUrl.has(baseUrl)
  }

  /** The key's pacer, marked the most recently used, when one is kept. */
  find(key: string): Pacer | undefined {
    const pacer = this.pacers.get(key)
    if (pacer) {
      // Map keeps insertion order: re-inserting marks it the most recently used.
      this.pacers.delete(key)
      this.pacers.set(key, pacer)
    }
    return pacer
  }

  /** The key's pacer, made when there is none. */
  for(key: string): Pacer {
    const found = this.find(key)
    if (found) return found
    if (this.pacers.size >= this.maxPacers) {
      const oldest = this.pacers.keys().next().value
      if (oldest !== undefined) this.forget(oldest)
    }
    const pacer = new Pacer(this.options)
    this.pacers.set(key, pacer)
    const baseUrl = baseUrlOf(key)
    this.perBaseUrl.set(baseUrl, (this.perBaseUrl.get(baseUrl) ?? 0) + 1)
    return pacer
  }

  private forget(key: string): void {
    this.pacers.delete(key)
    const baseUrl = baseUrlOf(key)
    const left = (this.perBaseUrl.get(baseUrl) ?? 1) - 1
    if (left > 0) this.perBaseUrl.set(baseUrl, left)
    else this.perBaseUrl.delete(baseUrl)
  }
}

/**
 * A vendor host's stated limit, for all keys together, as a schedule: one slot every `intervalMs`,
 * run just under the limit (the pacer's margin), keyed by the base URL's origin.
 */
export interface HostSchedule {
  readonly host: string
  readonly intervalMs: number
}

export const hostScheduleFor = (
  limit: HostLimit | undefined,
  baseUrl: URL,
  margin = ENGINE_DEFAULTS.pacer.margin,
): HostSchedule | undefined =>
  limit === undefined
    ? undefined
    : { host: baseUrl.origin, intervalMs: (limit.seconds * 1000) / (limit.requests * margin) }

/**
 * A vendor host's slots taken by this process, for every key: no two closer than the host's
 * interval, which alone keeps any window of the host's under its limit. A request takes the first gap
 * wide enough from the time its key is free, even before slots that keys held back by their own pace
 * took further ahead: a single "next free" time would send it past the furthest, and leave the host
 * idle meanwhile. The fleet's schedule in Redis takes slots the same way (runner/fleet/shared-pacing.ts).
 */
export class HostSlots {
  /** Slot times in ms, ascending; none more than an interval before the last `now`. */
  private readonly taken: number[] = []

  /** Takes the first free slot at or after `earliest` (never before `now`), and answers it. */
  take(earliest: number, now: number, intervalMs: number): number {
    // A slot more than an interval back cannot crowd one to come: every new slot is at now or later.
    let stale = 0
    while (stale < this.taken.length && (this.taken[stale] as number) < now - intervalMs) stale++
    if (stale > 0) this.taken.splice(0, stale)
    let start = Math.max(earliest, now)
    let index = 0
    for (; index < this.taken.length; index++) {
      const slot = this.taken[index] as number
      if (slot >= start + intervalMs) break
      if (slot > start - intervalMs) start = slot + intervalMs
    }
    this.taken.splice(index, 0, start)
    return start
  }

  /** How many slots are held: those to come, and the last interval's. */
  get size(): number {
    return this.taken.length
  }
}

/** The same, as the optional field of an exchange's plan. */
export const hostScheduleOf = (limit: HostLimit | undefined, baseUrl: URL): { hostSchedule?: HostSchedule } => {
  const hostSchedule = hostScheduleFor(limit, baseUrl)
  return hostSchedule ? { hostSchedule } : {}
}
