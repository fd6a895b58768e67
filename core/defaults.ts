/**
 * Every default the exchange engine runs with, in one block, each with its unit. A definition's
 * `rateLimit` sets the retry numbers per vendor (first delay, cap, attempts, budgets); everything
 * else starts here, and no other module keeps a default of its own.
 */

export interface TransportDefaults {
  /** Opening a TCP (and TLS) connection. */
  readonly connectTimeoutMs: number
  /** From sending a request to its response headers; never longer than what is left of the deadline. */
  readonly headersTimeoutMs: number
  /** Silence between two chunks of a body; the deadline bounds the body as a whole. */
  readonly bodyTimeoutMs: number
  /** Bodies larger than this are cut off, and the response is flagged `truncated`. */
  readonly maxBodyBytes: number
  /** Keep-alive connections per origin. */
  readonly connectionsPerOrigin: number
  readonly keepAliveTimeoutMs: number
}

export interface PacerDefaults {
  /** Requests per second before anything is known about the vendor. */
  readonly initialRate: number
  readonly minRate: number
  readonly maxRate: number
  /** Fraction of a stated limit to run at, leaving room for clock skew and other clients. */
  readonly margin: number
  /** On a 429 with no stated limit, the rate is multiplied by this. */
  readonly decrease: number
  /** In steady state, the rate grows by this fraction of itself per second without a 429. */
  readonly probePerSecond: number
  /** When 429s cost a vendor-set wait, the probe is this many times slower. */
  readonly costlyProbeDivisor: number
}

export interface RetryQuotaDefaults {
  /** Tokens a vendor host starts with, and holds at most. */
  readonly capacity: number
  /** What one retry costs. */
  readonly retryCost: number
  /** What one retry after a timeout costs: a timeout is the surest sign of an overloaded vendor. */
  readonly timeoutRetryCost: number
  /** What a request that needed no retry returns. */
  readonly successRefund: number
}

export interface RetryDefaults {
  /** A sync's whole wait budget when the definition gives none. */
  readonly syncBudgetMs: number
  /** Statuses a sync retries on top of the definition's `retryOn`: it can resume, but a blip should not stop it. */
  readonly syncAlsoRetries: ReadonlyArray<number>
  /** The retry quota per vendor host (`core/retry-quota.ts`), with the AWS SDKs' standard numbers. */
  readonly quota: RetryQuotaDefaults
}

export interface EngineDefaults {
  readonly transport: TransportDefaults
  readonly pacer: PacerDefaults
  readonly retry: RetryDefaults
  /** No wait header can ask for more than this; a larger value is clamped, never trusted. */
  readonly maxHeaderWaitMs: number
  /** Attempts kept in one exchange's log; a longer run keeps the first and the last ones. */
  readonly maxLoggedAttempts: number
  /** Pacers a process keeps (one per key and host); past this, the least recently used is forgotten. */
  readonly maxPacers: number
}

export const ENGINE_DEFAULTS: EngineDefaults = {
  transport: {
    connectTimeoutMs: 10_000,
    headersTimeoutMs: 15_000,
    bodyTimeoutMs: 30_000,
    maxBodyBytes: 8 * 1024 * 1024,
    connectionsPerOrigin: 16,
    keepAliveTimeoutMs: 30_000,
  },
  pacer: {
    initialRate: 20,
    minRate: 0.2,
    maxRate: 2000,
    margin: 0.95,
    decrease: 0.85,
    probePerSecond: 0.01,
    costlyProbeDivisor: 3,
  },
  retry: {
    syncBudgetMs: 300_000,
    syncAlsoRetries: [500, 502, 503, 504],
    quota: { capacity: 500, retryCost: 5, timeoutRetryCost: 10, successRefund: 1 },
  },
  maxHeaderWaitMs: 24 * 60 * 60 * 1000,
  maxLoggedAttempts: 50,
  maxPacers: 10_000,
}
