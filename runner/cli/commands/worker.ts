/**
 * `keyway worker [--concurrency N] [--out DIR] [--metrics-port N] [--sandbox]`: consumes Keyway's
 * verify and sync queues on the Redis at KEYWAY_REDIS (or KEYWAY_STORE), until SIGINT or SIGTERM,
 * which let the active jobs finish.
 */
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { connectorsDir, loadConnectorDir } from "../../catalog/catalog.ts"
import { fleetRedisUrl } from "../../fleet/redis-url.ts"
import { startWorker } from "../../fleet/worker.ts"
import { SandboxFailed } from "../../sandbox/layer.ts"
import { storeConfigFromEnv } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson, reportInvalid, SANDBOX_OPTION, stopRequested, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const options = {
  concurrency: { type: "string", value: "N", description: "jobs run at once by this worker (default 4)" },
  out: { type: "string", value: "DIR", description: "where sync outputs go (default: $KEYWAY_HOME/outputs)" },
  "metrics-port": { type: "string", value: "N", description: "serve Prometheus /metrics on this port" },
  "lock-seconds": {
    type: "string",
    value: "N",
    description: "how long a job's lock lasts before a silent worker's job is taken over (default 30)",
  },
  sandbox: SANDBOX_OPTION,
} as const satisfies OptionSpecs

const whole = (name: string, text: string | undefined, fallback: number) =>
  text === undefined
    ? Effect.succeed(fallback)
    : /^\d+$/.test(text)
      ? Effect.succeed(Number(text))
      : usage(`--${name} takes a whole number`)

export const run: CommandRun<typeof options> = ({ values }, io) =>
  Effect.gen(function* () {
    // Listening before anything else, so a stop sent once it says it is ready is always graceful.
    const stopped = yield* stopRequested
    const redisUrl = fleetRedisUrl(io.env)
    if (!redisUrl) {
      return yield* usage(
        "keyway worker needs Redis: set KEYWAY_REDIS=redis://127.0.0.1:6379 (or KEYWAY_STORE to a redis:// URL)",
      )
    }
    const concurrency = yield* whole("concurrency", values.concurrency, 4)
    const lockSeconds = yield* whole("lock-seconds", values["lock-seconds"], 30)
    const metricsPort =
      values["metrics-port"] === undefined ? undefined : yield* whole("metrics-port", values["metrics-port"], 0)
    const loaded = yield* loadConnectorDir(connectorsDir(io.env))
    reportInvalid(
      io,
      loaded.filter((r) => !r.definition),
    )
    const store = storeConfigFromEnv(io.env)
    const outDir = values.out ?? join(store.home, "outputs")
    const { metricsUrl } = yield* startWorker({
      redisUrl,
      definitions: new Map(loaded.flatMap((r) => (r.definition ? [[r.definition.id, r.definition] as const] : []))),
      store,
      env: io.env,
      outDir,
      concurrency,
      lockMs: lockSeconds * 1000,
      sandboxUrl: values.sandbox ? (io.env.KEYWAY_SANDBOX_URL ?? undefined) : undefined,
      ...(metricsPort !== undefined ? { metricsPort } : {}),
      log: (line) => io.err(`${new Date().toISOString()} ${line}\n`),
      // For tests: the webhook retry schedule, scaled (the real one spans a day).
      webhookRetryScale: Number(io.env.KEYWAY_WEBHOOK_RETRY_SCALE ?? "1") || 1,
    }).pipe(
      Effect.mapError(
        (error) =>
          new SandboxFailed({
            detail: `the worker could not start: ${error instanceof Error ? error.message : String(error)}`,
          }),
      ),
    )
    if (io.json)
      printJson(io, { redis: redisUrl.replace(/\/\/[^@/]*@/, "//***@"), outDir, metrics: metricsUrl ?? null })
    else {
      io.out(
        `Keyway worker on ${redisUrl.replace(/\/\/[^@/]*@/, "//***@")}: verify and sync jobs, ${concurrency} at a time; outputs in ${outDir}.${metricsUrl ? ` Metrics: ${metricsUrl}.` : ""} Ctrl-C stops it after its active jobs.\n`,
      )
    }
    yield* stopped
    return EXIT.ok
  }).pipe(Effect.scoped)
