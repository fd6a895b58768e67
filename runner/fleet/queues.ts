/**
 * Keyway's queues on BullMQ: `keyway-verify` re-tests a saved connection, `keyway-sync` pulls a
 * stream; schedules (BullMQ job schedulers, not timers of ours) put jobs on them. Every worker
 * process and every `keyway schedule` call reaches them through the Redis at `KEYWAY_REDIS`, or at
 * `KEYWAY_STORE` when that is Redis.
 */
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { type Delivery, WEBHOOK_QUEUE } from "./webhooks.ts"

export const VERIFY_QUEUE = "keyway-verify"
export const SYNC_QUEUE = "keyway-sync"

export interface VerifyJob {
  readonly workspace: string
  readonly connectionId: string
}

/** `verify-all` fans out a verify job per saved connection of every workspace. */
export type VerifyQueueJob = VerifyJob | { readonly all: true }

export interface SyncJob {
  readonly workspace: string
  readonly connectionId: string
  readonly streamId: string
  readonly params?: Readonly<Record<string, string>>
  /** A fixed window; without one, an incremental stream continues where its last sync ended. */
  readonly from?: string
  readonly to?: string
}

/** A connection for BullMQ: workers block on Redis, so a request never gives up on its own. */
export const redisConnection = (url: string): Redis => {
  const client = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false })
  // A Redis that is away surfaces through the calls that wait for it, and each worker logs its own
  // errors once per attempt; the client's event would only repeat them to stderr as "unhandled".
  client.on("error", () => {})
  return client
}

export interface Queues {
  readonly verify: Queue<VerifyQueueJob>
  readonly sync: Queue<SyncJob>
  readonly webhooks: Queue<Delivery>
  readonly close: () => Promise<void>
}

export const openQueues = (url: string): Queues => {
  const connection = redisConnection(url)
  const verify = new Queue<VerifyQueueJob>(VERIFY_QUEUE, { connection })
  const sync = new Queue<SyncJob>(SYNC_QUEUE, { connection })
  const webhooks = new Queue<Delivery>(WEBHOOK_QUEUE, { connection })
  return {
    verify,
    sync,
    webhooks,
    close: async () => {
      await verify.close()
      await sync.close()
      await webhooks.close()
      await connection.quit().catch(() => undefined)
    },
  }
}

/** One sync of a stream at a time: the id a manual and a scheduled job share. */
export const syncKey = (job: SyncJob): string => `sync:${job.workspace}:${job.connectionId}:${job.streamId}`
export const verifyKey = (job: VerifyJob): string => `verify:${job.workspace}:${job.connectionId}`
