/**
 * `keyway worker`: consumes the verify and sync queues with BullMQ workers, over the same engine,
 * keyring, catalog and stores as every other command. Several workers, in several processes, share
 * the queues. A stop (SIGTERM) closes the workers, which finish their active jobs first; a worker
 * killed outright leaves its job to stall, and another worker picks it up and resumes it.
 */

import { createServer, type Server } from "node:http"
import { Worker } from "bullmq"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { EXPIRY_WARNING_DAYS } from "../../core/expiry.ts"
import { catalogOf } from "../catalog/catalog.ts"
import { engineLayer, SharedPacingTag } from "../http/engine.ts"
import { transportLayer } from "../http/transport.ts"
import { sandboxLayer } from "../sandbox/layer.ts"
import { openServiceState, SERVICE_WORKSPACE } from "../server/state.ts"
import { Keyring, keyringLayer } from "../vault/sealing.ts"
import type { StoreConfig } from "../vault/store.ts"
import { syncStream, verifyConnection } from "./jobs.ts"
import { makeMetrics } from "./metrics.ts"
import {
  openQueues,
  redisConnection,
  SYNC_QUEUE,
  type SyncJob,
  VERIFY_QUEUE,
  type VerifyQueueJob,
  verifyKey,
} from "./queues.ts"
import { redisPacing } from "./shared-pacing.ts"
import { type Delivery, deliver, emit, WEBHOOK_QUEUE, webhookBackoff } from "./webhooks.ts"

export interface WorkerOptions {
  readonly redisUrl: string
  readonly definitions: ReadonlyMap<string, ConnectorDefinition>
  readonly store: StoreConfig
  readonly env: NodeJS.ProcessEnv
  /** Where sync outputs go: `<out>/<connection>/<stream>/<run>.ndjson` and its manifest. */
  readonly outDir: string
  readonly concurrency: number
  /** How long a job's lock lasts before a silent worker's job counts as stalled. */
  readonly lockMs?: number
  readonly sandboxUrl?: string | undefined
  /** Serve `/metrics` on this port (0: any free one). */
  readonly metricsPort?: number
  readonly log?: (line: string) => void
  /** Scales the webhook retry schedule (5 s, 5 min, 30 min, ...): tests use a small fraction. */
  readonly webhookRetryScale?: number
}

/** What a sync event says about its sync: never a secret, only where it ran. */
const aboutSync = (job: SyncJob) => ({ workspace: job.workspace, connectionId: job.connectionId, stream: job.streamId })

/** Closes something that talks to Redis, but never waits longer than `graceMs`: Redis may be gone. */
const boundedClose = (close: () => Promise<unknown>, giveUp: () => void, graceMs = 2_000) =>
  // A plain race: a finalizer is uninterruptible, so an Effect timeout would wait for the close anyway.
  Effect.promise(() => {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), graceMs)
    })
    return Promise.race([close().catch(() => undefined), late]).then((result) => {
      clearTimeout(timer)
      if (result === "late") giveUp()
    })
  })

export const startWorker = (
  options: WorkerOptions,
): Effect.Effect<{ readonly metricsUrl: string | undefined }, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const log = options.log ?? (() => {})
    const state = yield* openServiceState(options.store)
    // Every worker paces each key on one shared schedule in Redis.
    const pacingClient = redisConnection(options.redisUrl)
    yield* Effect.addFinalizer(() =>
      boundedClose(
        () => pacingClient.quit(),
        () => pacingClient.disconnect(),
      ),
    )
    const services = yield* Layer.build(
      Layer.mergeAll(
        engineLayer.pipe(
          Layer.provide(transportLayer()),
          Layer.provide(Layer.succeed(SharedPacingTag, redisPacing(pacingClient))),
        ),
        keyringLayer(options.store.home, options.env),
        options.sandboxUrl !== undefined ? sandboxLayer(options.sandboxUrl) : Layer.empty,
      ).pipe(Layer.provideMerge(catalogOf(options.definitions.values()))),
    )
    const run = <A>(effect: Effect.Effect<A, unknown, never>) => Effect.runPromise(effect)
    const provided = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      run(Effect.provide(effect, services) as Effect.Effect<A, unknown, never>)
    const metrics = makeMetrics()
    const queues = openQueues(options.redisUrl)
    yield* Effect.addFinalizer(() => boundedClose(queues.close, () => undefined))
    const lockDuration = options.lockMs ?? 30_000
    const settings = { concurrency: options.concurrency, lockDuration, stalledInterval: lockDuration }

    const verifier = new Worker<VerifyQueueJob>(
      VERIFY_QUEUE,
      async (job) => {
        if ("all" in job.data) {
          // The scheduled sweep: one verify job per saved connection, never two for one at once.
          let queued = 0
          for (const workspace of await provided(state.storeFor(SERVICE_WORKSPACE).workspaces())) {
            if (workspace === SERVICE_WORKSPACE) continue
            const listing = await provided(state.storeFor(workspace).list())
            for (const record of listing.records) {
              const data = { workspace, connectionId: record.id }
              await queues.verify.add("verify", data, {
                deduplication: { id: verifyKey(data) },
                removeOnComplete: 1000,
              })
              queued++
            }
          }
          return { queued }
        }
        const before = await provided(state.storeFor(job.data.workspace).get(job.data.connectionId))
        const done = await provided(verifyConnection(state, job.data, metrics))
        const wasWorking = (before?.lastTest?.verdict.outcome ?? "connected") === "connected"
        const works = done.result.verdict.outcome === "connected"
        const about = {
          workspace: job.data.workspace,
          connectionId: job.data.connectionId,
          connector: done.connection.connector,
          tags: done.connection.tags ?? {},
          code: done.result.verdict.code,
          message: done.result.verdict.message,
        }
        // Status changes, not every check: a key that broke, or one that works again.
        if (wasWorking !== works) {
          await emit(queues, state, job.data.workspace, {
            type: works ? "connection.recovered" : "connection.verification_failed",
            timestamp: new Date().toISOString(),
            data: about,
          })
        }
        const expiresAt = done.connection.expiresAt ? Date.parse(done.connection.expiresAt) : Number.NaN
        if (works && expiresAt - Date.now() < EXPIRY_WARNING_DAYS[0] * 86_400_000) {
          await emit(queues, state, job.data.workspace, {
            type: "connection.expiring",
            timestamp: new Date().toISOString(),
            data: { ...about, expiresAt: done.connection.expiresAt },
          })
        }
        log(`verify ${job.data.connectionId}: ${done.result.verdict.outcome}`)
        return { outcome: done.result.verdict.outcome, code: done.result.verdict.code }
      },
      { connection: redisConnection(options.redisUrl), ...settings },
    )
    const syncer = new Worker<SyncJob>(
      SYNC_QUEUE,
      async (job) => {
        const retry = job.attemptsMade > 0 || (job.stalledCounter ?? 0) > 0
        const done = await provided(syncStream(state, job.data, String(job.id), options.outDir, retry))
        metrics.synced(done.summary.records, done.summary.waits, done.summary.waitedMs)
        await provided(
          state.recordEvent(job.data.workspace, job.data.connectionId, {
            type: "synced",
            at: new Date().toISOString(),
            by: "worker",
            message: `${job.data.streamId}: ${done.summary.records} records in ${done.summary.pages} pages`,
          }),
        )
        await emit(queues, state, job.data.workspace, {
          type: "sync.finished",
          timestamp: new Date().toISOString(),
          data: {
            ...aboutSync(job.data),
            records: done.summary.records,
            pages: done.summary.pages,
            manifest: done.manifest,
          },
        })
        log(`sync ${job.data.connectionId} ${job.data.streamId}: ${done.summary.records} records to ${done.out}`)
        return { records: done.summary.records, out: done.out, manifest: done.manifest }
      },
      { connection: redisConnection(options.redisUrl), ...settings },
    )
    const keyring = Context.get(services, Keyring)
    const deliverer = new Worker<Delivery>(
      WEBHOOK_QUEUE,
      async (job) => {
        const outcome = await deliver(state, keyring, job.data)
        log(`webhook ${job.data.webhookId} ${job.data.event.type} to ${job.data.endpointId}: ${outcome}`)
        return outcome
      },
      {
        connection: redisConnection(options.redisUrl),
        ...settings,
        settings: { backoffStrategy: webhookBackoff(options.webhookRetryScale ?? 1) },
      },
    )
    syncer.on("failed", (job) => {
      // The last attempt failed: the sync will not run again until its next schedule.
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        void provided(
          state.recordEvent(job.data.workspace, job.data.connectionId, {
            type: "sync_failed",
            at: new Date().toISOString(),
            by: "worker",
            message: `${job.data.streamId}: ${job.failedReason}`,
          }),
        ).catch(() => undefined)
        void emit(queues, state, job.data.workspace, {
          type: "sync.failed",
          timestamp: new Date().toISOString(),
          data: { ...aboutSync(job.data), reason: job.failedReason },
        }).catch(() => undefined)
      }
    })
    for (const [name, worker] of [
      [VERIFY_QUEUE, verifier],
      [SYNC_QUEUE, syncer],
      [WEBHOOK_QUEUE, deliverer],
    ] as const) {
      worker.on("failed", (job, error) => {
        metrics.jobFailed(name)
        log(`${name} job ${job?.id ?? "?"} failed: ${error.message}`)
      })
      worker.on("error", (error) => log(`${name}: ${error.message}`))
    }
    // Closing a worker waits for its active jobs: a stop never leaves a half-written output. A job
    // still running after its lock's duration (or a Redis that is gone, so nothing can close cleanly)
    // is left as a kill would leave it: stalled, for another worker to resume from its checkpoint.
    yield* Effect.addFinalizer(() =>
      boundedClose(
        () => Promise.all([verifier.close(), syncer.close(), deliverer.close()]),
        () => log(`stopping without waiting longer: jobs still active after ${lockDuration} ms are left to stall`),
        lockDuration,
      ),
    )

    let metricsUrl: string | undefined
    if (options.metricsPort !== undefined) {
      const server: Server = createServer(async (request, response) => {
        if (request.url !== "/metrics") {
          response.writeHead(404).end()
          return
        }
        for (const [name, queue] of [
          [VERIFY_QUEUE, queues.verify],
          [SYNC_QUEUE, queues.sync],
        ] as const) {
          const counts = await queue.getJobCounts("waiting", "active", "delayed", "failed")
          for (const [stateName, count] of Object.entries(counts))
            metrics.queueDepth.set({ queue: name, state: stateName }, count)
        }
        response.writeHead(200, { "content-type": metrics.registry.contentType })
        response.end(await metrics.registry.metrics())
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          server.listen(options.metricsPort, "127.0.0.1", () => resume(Effect.void))
          return undefined
        }),
        () =>
          Effect.async<void>((resume) => {
            server.close(() => resume(Effect.void))
          }),
      )
      const address = server.address()
      metricsUrl = typeof address === "object" && address ? `http://127.0.0.1:${address.port}/metrics` : undefined
    }
    return { metricsUrl }
  })
