/**
 * Schedules, as BullMQ job schedulers (`upsertJobScheduler`): a daily re-verification of every
 * saved connection, and a cron per connection and stream for syncs. A sync run now shares its
 * stream's de-duplication id with the scheduled ones, so a manual run never overlaps another.
 */
import { type Queues, type SyncJob, syncKey } from "./queues.ts"

export const VERIFY_ALL = "verify-all"

/** A job that fails is tried again with exponential backoff; a retried sync resumes its checkpoint. */
const retries = { attempts: 5, backoff: { type: "exponential", delay: 5_000 } } as const

export const scheduleVerifyAll = (queues: Queues, everyMs: number) =>
  queues.verify.upsertJobScheduler(VERIFY_ALL, { every: everyMs }, { name: VERIFY_ALL, data: { all: true } })

export const scheduleSync = (queues: Queues, job: SyncJob, pattern: string) =>
  queues.sync.upsertJobScheduler(syncKey(job), { pattern }, { name: "sync", data: job, opts: retries })

export const syncNow = (queues: Queues, job: SyncJob) =>
  queues.sync.add("sync", job, { ...retries, deduplication: { id: syncKey(job) }, removeOnComplete: 1000 })

export interface ScheduleView {
  readonly id: string
  readonly queue: "verify" | "sync"
  readonly every?: number | undefined
  readonly pattern?: string | undefined
  readonly next?: number | undefined
}

export const listSchedules = async (queues: Queues): Promise<ReadonlyArray<ScheduleView>> => {
  const [verify, sync] = await Promise.all([queues.verify.getJobSchedulers(), queues.sync.getJobSchedulers()])
  const view =
    (queue: ScheduleView["queue"]) =>
    (s: { key: string; every?: number | null; pattern?: string | null; next?: number }): ScheduleView => ({
      id: s.key,
      queue,
      every: s.every ?? undefined,
      pattern: s.pattern ?? undefined,
      next: s.next,
    })
  return [...verify.map(view("verify")), ...sync.map(view("sync"))]
}

export const removeSchedule = async (queues: Queues, id: string): Promise<boolean> =>
  (await queues.verify.removeJobScheduler(id)) || (await queues.sync.removeJobScheduler(id))
