/**
 * Prometheus metrics (`prom-client`), served at `/metrics` by workers and by `keyway serve`: checks by
 * outcome, 429s and the time waited, records synced, job failures and queue depth.
 */
import { Counter, Gauge, Registry } from "prom-client"
import type { CheckResult } from "../check/check.ts"

export interface Metrics {
  readonly registry: Registry
  /** Counts one check's verdict and its waits. */
  readonly checked: (result: CheckResult) => void
  readonly synced: (records: number, waits: number, waitedMs: number) => void
  readonly jobFailed: (queue: string) => void
  /** Set before each scrape: jobs waiting, active and failed, by queue. */
  readonly queueDepth: Gauge<"queue" | "state">
}

export const makeMetrics = (): Metrics => {
  const registry = new Registry()
  const checks = new Counter({
    name: "keyway_checks_total",
    help: "Save & test and re-test checks, by outcome.",
    labelNames: ["outcome"],
    registers: [registry],
  })
  const throttled = new Counter({
    name: "keyway_rate_limited_responses_total",
    help: "Responses with status 429 from vendors.",
    registers: [registry],
  })
  const waited = new Counter({
    name: "keyway_waited_seconds_total",
    help: "Time spent waiting on vendors' rate limits and backoff.",
    registers: [registry],
  })
  const records = new Counter({ name: "keyway_records_synced_total", help: "Records synced.", registers: [registry] })
  const failures = new Counter({
    name: "keyway_job_failures_total",
    help: "Jobs that failed, by queue.",
    labelNames: ["queue"],
    registers: [registry],
  })
  const queueDepth = new Gauge({
    name: "keyway_queue_jobs",
    help: "Jobs in each queue, by state.",
    labelNames: ["queue", "state"],
    registers: [registry],
  })
  return {
    registry,
    checked: (result) => {
      checks.inc({ outcome: result.verdict.outcome })
      for (const attempt of result.attempts) {
        if (attempt.status === 429) throttled.inc()
        if (attempt.waitMs) waited.inc(attempt.waitMs / 1000)
      }
    },
    synced: (count, _waits, waitedMs) => {
      records.inc(count)
      waited.inc(waitedMs / 1000)
    },
    jobFailed: (queue) => failures.inc({ queue }),
    queueDepth,
  }
}
