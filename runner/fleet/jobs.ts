/**
 * What a worker does with each job, over the library's own functions: a verify job re-tests a saved
 * connection (the audit log records it); a sync job pulls a stream into an NDJSON file under
 * `<out>/<connection>/<stream>/<run>.ndjson`, with a manifest beside it, holding the stream's lock so
 * two workers never sync it at once. A retried job resumes from its checkpoint into the same file.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { retestIn } from "../server/service.ts"
import type { ServiceState } from "../server/state.ts"
import { fileSink } from "../sync/sinks.ts"
import { runSync, type SyncSummary } from "../sync/sync.ts"
import { Store } from "../vault/store.ts"
import type { Metrics } from "./metrics.ts"
import type { SyncJob, VerifyJob } from "./queues.ts"

export const verifyConnection = (state: ServiceState, job: VerifyJob, metrics?: Metrics) =>
  retestIn({ state, metrics }, job.workspace, job.connectionId, undefined, undefined, "worker")

export interface SyncRun {
  readonly summary: SyncSummary
  readonly out: string
  readonly manifest: string
}

/** Runs a sync job as run `runId` (the job's id: the same on a retry, so a retry resumes the same file). */
export const syncStream = (state: ServiceState, job: SyncJob, runId: string, outDir: string, retry: boolean) =>
  Effect.gen(function* () {
    const store = state.storeFor(job.workspace)
    const dir = join(outDir, job.connectionId, job.streamId)
    mkdirSync(dir, { recursive: true })
    const out = join(dir, `${runId}.ndjson`)
    const request = (resume: boolean) =>
      runSync({
        connectionId: job.connectionId,
        streamId: job.streamId,
        ...(job.params ? { params: job.params } : {}),
        ...(job.from ? { from: job.from } : {}),
        ...(job.to ? { to: job.to } : {}),
        resume,
        openSink: (resumeAt) => fileSink(out, resumeAt),
      })
    const run = retry
      ? Effect.catchIf(
          request(true),
          // Killed before its first checkpoint: there is nothing to resume, so it starts over.
          (error) =>
            (error as { _tag?: string; problems?: ReadonlyArray<{ field: string }> })._tag === "InvalidInput" &&
            (error as { problems: ReadonlyArray<{ field: string }> }).problems[0]?.field === "resume",
          () => request(false),
        )
      : request(false)
    const summary = yield* store
      .withLock(`sync-stream:${job.connectionId}:${job.streamId}`, run)
      .pipe(Effect.provideService(Store, store))
    const manifest = join(dir, `${runId}.manifest.json`)
    writeFileSync(
      manifest,
      `${JSON.stringify(
        {
          connection: job.connectionId,
          stream: job.streamId,
          run: runId,
          records: summary.records,
          pages: summary.pages,
          window: job.from || job.to ? { from: job.from, to: job.to } : "incremental",
          cursor: summary.resumePoint ?? null,
          resumed: summary.resumed,
          skipped: summary.skipped,
          finishedAt: new Date().toISOString(),
        },
        null,
        2,
      )}\n`,
    )
    return { summary, out, manifest } satisfies SyncRun
  })
