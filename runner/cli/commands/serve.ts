/**
 * `keyway serve [--port N] [--host H] [--sandbox] [--checks-per-minute N]` (`npm run serve`): the HTTP
 * API, the connect form and `/connect.js`, until SIGINT or SIGTERM. A stop lets in-flight checks
 * finish and write.
 */

import { join } from "node:path"
import * as Effect from "effect/Effect"
import { connectorsDir, loadConnectorDir } from "../../catalog/catalog.ts"
import { fleetRedisUrl } from "../../fleet/redis-url.ts"
import { SandboxFailed } from "../../sandbox/layer.ts"
import { serve } from "../../server/serve.ts"
import { DEFAULT_LIMITS } from "../../server/service.ts"
import { storeConfigFromEnv } from "../../vault/store.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson, reportInvalid, SANDBOX_OPTION, stopRequested, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const options = {
  port: { type: "string", value: "N", description: "the port to listen on (default: 4000; 0 for any free one)" },
  host: { type: "string", value: "HOST", description: "the address to listen on (default: 127.0.0.1)" },
  sandbox: SANDBOX_OPTION,
  "checks-per-minute": {
    type: "string",
    value: "N",
    description: `save & tests each workspace may run per minute (default: ${DEFAULT_LIMITS.checksPerWorkspacePerMinute})`,
  },
  quiet: { type: "boolean", description: "log no request lines" },
  worker: {
    type: "boolean",
    description:
      "also run a worker for the fleet's queues in this process (needs KEYWAY_REDIS): a small installation in one process",
  },
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values }, io) =>
  Effect.gen(function* () {
    // Listening before anything else, so a stop sent once it says it is ready is always graceful.
    const stopped = yield* stopRequested
    const port = values.port === undefined ? 4000 : Number(values.port)
    if (!/^\d+$/.test(values.port ?? "0") || port > 65_535) {
      return yield* usage(`--port takes a port from 0 (any free one) to 65535, not ${values.port}`)
    }
    const checksPerMinute = values["checks-per-minute"]
    if (checksPerMinute !== undefined && !/^[1-9]\d{0,9}$/.test(checksPerMinute)) {
      return yield* usage(`--checks-per-minute takes a whole number of checks, 1 or more, not ${checksPerMinute}`)
    }
    const loaded = yield* loadConnectorDir(connectorsDir(io.env))
    reportInvalid(
      io,
      loaded.filter((r) => !r.definition),
    )
    const definitions = new Map(loaded.flatMap((r) => (r.definition ? [[r.definition.id, r.definition] as const] : [])))
    const { url } = yield* serve({
      port,
      host: values.host ?? "127.0.0.1",
      definitions,
      store: storeConfigFromEnv(io.env),
      env: io.env,
      sandbox: values.sandbox ?? false,
      sandboxUrl: io.env.KEYWAY_SANDBOX_URL,
      ...(checksPerMinute ? { limits: { checksPerWorkspacePerMinute: Number(checksPerMinute) } } : {}),
      fleetRedisUrl: fleetRedisUrl(io.env),
      ...(values.quiet ? {} : { log: (line: string) => io.err(`${new Date().toISOString()} ${line}\n`) }),
    }).pipe(
      Effect.mapError((error) => {
        const code = (error as { cause?: { code?: string }; code?: string })?.cause?.code
        return new SandboxFailed({
          detail:
            code === "EADDRINUSE"
              ? `port ${port} is in use; choose another with --port, or --port 0 for any free one`
              : `the server could not start: ${error instanceof Error ? error.message : String(error)}`,
        })
      }),
    )
    if (values.worker) {
      const redisUrl = fleetRedisUrl(io.env)
      if (!redisUrl) return yield* usage("--worker needs Redis: set KEYWAY_REDIS=redis://127.0.0.1:6379")
      // The worker must check against the same fakes, never a real vendor, when --sandbox is given.
      if (values.sandbox && !io.env.KEYWAY_SANDBOX_URL) {
        return yield* usage(
          "--worker with --sandbox needs KEYWAY_SANDBOX_URL, a running npx keyway sandbox, for the worker's jobs",
        )
      }
      const store = storeConfigFromEnv(io.env)
      const { startWorker } = yield* Effect.promise(() => import("../../fleet/worker.ts"))
      yield* startWorker({
        redisUrl,
        definitions,
        store,
        env: io.env,
        outDir: join(store.home, "outputs"),
        concurrency: 4,
        sandboxUrl: values.sandbox ? io.env.KEYWAY_SANDBOX_URL : undefined,
        log: (line) => io.err(`${new Date().toISOString()} ${line}\n`),
      }).pipe(
        Effect.mapError(
          (error) =>
            new SandboxFailed({
              detail: `the worker could not start: ${error instanceof Error ? error.message : String(error)}`,
            }),
        ),
      )
    }
    if (io.json) printJson(io, { url, openapi: `${url}/openapi.json`, script: `${url}/connect.js` })
    else {
      io.out(
        [
          `Keyway serving on ${url}${values.sandbox ? " (every check goes to the sandbox's fakes)" : ""}. Ctrl-C stops it.`,
          values.sandbox ? `  The connect form for each connector: ${url}/` : "",
          `  The API: ${url}/v1 (described at ${url}/openapi.json); its key from npx keyway workspaces create <name>`,
          `  For the host page: <script src="${url}/connect.js"></script>`,
        ]
          .filter((line) => line !== "")
          .map((line) => `${line}\n`)
          .join(""),
      )
    }
    yield* stopped
    return EXIT.ok
  }).pipe(Effect.scoped)
