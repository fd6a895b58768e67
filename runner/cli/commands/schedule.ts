/**
 * `keyway schedule verify [--every 24h]`, `keyway schedule sync <connection> <stream> (--cron EXPR |
 * --now) [--from --to --param k=v]`, `keyway schedule list`, `keyway schedule remove <id>`: BullMQ job
 * schedulers on the fleet's Redis; workers (`keyway worker`) run the jobs.
 */
import * as Effect from "effect/Effect"
import { openQueues } from "../../fleet/queues.ts"
import { fleetRedisUrl } from "../../fleet/redis-url.ts"
import { listSchedules, removeSchedule, scheduleSync, scheduleVerifyAll, syncNow } from "../../fleet/schedules.ts"
import { EXIT } from "../exit-codes.ts"
import { duration, type OptionSpecs, parsePairs, printJson, table, usage, WORKSPACE_OPTION } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const options = {
  every: { type: "string", value: "DURATION", description: "for verify: how often, as 30m, 6h or 1d (default 1d)" },
  cron: { type: "string", value: "EXPR", description: 'for sync: a cron pattern, e.g. "0 * * * *" (hourly)' },
  now: { type: "boolean", description: "for sync: queue one run now instead of a schedule" },
  from: { type: "string", value: "YYYY-MM-DD", description: "for sync: a fixed window's first day" },
  to: { type: "string", value: "YYYY-MM-DD", description: "for sync: a fixed window's last day" },
  param: { type: "string", multiple: true, value: "k=v", description: "for sync: a stream parameter" },
  workspace: WORKSPACE_OPTION,
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values, positionals }, io) =>
  Effect.gen(function* () {
    const redisUrl = fleetRedisUrl(io.env)
    if (!redisUrl) return yield* usage("keyway schedule needs Redis: set KEYWAY_REDIS=redis://127.0.0.1:6379")
    const [action, ...rest] = positionals
    const queues = yield* Effect.acquireRelease(
      Effect.sync(() => openQueues(redisUrl)),
      (opened) => Effect.promise(opened.close),
    )
    const workspace = values.workspace ?? io.env.KEYWAY_WORKSPACE ?? "default"
    switch (action) {
      case "verify": {
        const every = yield* duration("every", values.every ?? "1d")
        if (every === 0) return yield* usage("--every must be longer than 0")
        yield* Effect.promise(() => scheduleVerifyAll(queues, every))
        if (io.json) printJson(io, { schedule: "verify-all", every })
        else io.out(`Every saved connection is re-verified every ${values.every ?? "1d"} (schedule verify-all).\n`)
        return EXIT.ok
      }
      case "sync": {
        const [connectionId, streamId] = rest
        if (!connectionId || !streamId)
          return yield* usage("usage: keyway schedule sync <connection> <stream> (--cron EXPR | --now)")
        if (!values.cron === !values.now) return yield* usage("give one of --cron EXPR or --now")
        const params = yield* parsePairs("param", values.param ?? [])
        const job = {
          workspace,
          connectionId,
          streamId,
          ...(Object.keys(params).length > 0 ? { params } : {}),
          ...(values.from ? { from: values.from } : {}),
          ...(values.to ? { to: values.to } : {}),
        }
        if (values.now) {
          const queued = yield* Effect.promise(() => syncNow(queues, job))
          if (io.json) printJson(io, { job: queued.id })
          else io.out(`Queued sync ${connectionId} ${streamId} (job ${queued.id}); a worker runs it.\n`)
        } else {
          const cron = values.cron as string
          yield* Effect.tryPromise({
            try: () => scheduleSync(queues, job, cron),
            catch: (error) => error,
          }).pipe(Effect.catchAll((error) => usage(`--cron "${cron}" is not a cron pattern (${String(error)})`)))
          if (io.json) printJson(io, { schedule: `sync:${workspace}:${connectionId}:${streamId}`, cron })
          else
            io.out(
              `Scheduled sync ${connectionId} ${streamId} at "${cron}" (schedule sync:${workspace}:${connectionId}:${streamId}).\n`,
            )
        }
        return EXIT.ok
      }
      case "list": {
        const schedules = yield* Effect.promise(() => listSchedules(queues))
        if (io.json) printJson(io, { schedules })
        else {
          io.out(
            `${table([
              ["SCHEDULE", "QUEUE", "WHEN", "NEXT"],
              ...schedules.map((s) => [
                s.id,
                s.queue,
                s.pattern ?? `every ${Math.round((s.every ?? 0) / 1000)} s`,
                s.next ? new Date(s.next).toISOString() : "-",
              ]),
            ])}\n`,
          )
        }
        return EXIT.ok
      }
      case "remove": {
        const id = rest[0]
        if (!id) return yield* usage("usage: keyway schedule remove <schedule>")
        const removed = yield* Effect.promise(() => removeSchedule(queues, id))
        if (!removed) return yield* usage(`no schedule "${id}"; see npx keyway schedule list`)
        io.out(`Removed schedule ${id}.\n`)
        return EXIT.ok
      }
      default:
        return yield* usage("usage: keyway schedule verify | sync <connection> <stream> | list | remove <schedule>")
    }
  }).pipe(Effect.scoped)
