/**
 * The retry quota, as the AWS SDKs keep one: a token bucket per vendor host. Every retry costs
 * tokens, a timeout more; every success returns one. When a host keeps failing, the bucket runs dry
 * and further failures are answered at once, not retried: a retry storm only makes an outage worse.
 * Pure: the engine keeps one per host.
 */
import type { RetryQuotaDefaults } from "./defaults.ts"

export class RetryQuota {
  private tokens: number

  constructor(readonly options: RetryQuotaDefaults) {
    this.tokens = options.capacity
  }

  get available(): number {
    return this.tokens
  }

  /** Pays for one retry; false, and nothing paid, when the quota cannot. */
  take(cost: number): boolean {
    if (this.tokens < cost) return false
    this.tokens -= cost
    return true
  }

  /** A request succeeded: what its retries cost comes back, or one token when it needed none. */
  succeeded(paid: number): void {
    this.tokens = Math.min(this.options.capacity, this.tokens + (paid > 0 ? paid : this.options.successRefund))
  }
}
