/**
 * `keyway sandbox [--port N] [--records N] [--rate N --burst N --mode M]`: serves the four vendor
 * fakes on loopback until interrupted, and prints their base URLs and the scenario keys.
 */
import * as Effect from "effect/Effect"
import { Catalog, catalogFromDir, connectorsDir } from "../../catalog/catalog.ts"
import { SandboxFailed } from "../../sandbox/layer.ts"
import {
  derivedFakeInput,
  SCENARIO_TABLE,
  WAIT_MODE_TABLE,
  WAIT_MODES,
  type WaitMode,
} from "../../sandbox/scenarios.ts"
import { derivedFakeDefinitions, startSandbox } from "../../sandbox/server.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson, reportInvalid, stopRequested, table, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"

const wholeNumber = (name: string, text: string | undefined) =>
  text === undefined
    ? Effect.succeed(undefined)
    : /^\d+$/.test(text)
      ? Effect.succeed(Number(text))
      : usage(`--${name} takes a whole number, not "${text}"`)

const isWaitMode = (mode: string): mode is WaitMode => (WAIT_MODES as ReadonlyArray<string>).includes(mode)

export const options = {
  port: { type: "string", value: "N", description: "the port on 127.0.0.1 (default: any free one)" },
  records: { type: "string", value: "N", description: "records each report holds (default: per scenario key)" },
  rate: {
    type: "string",
    value: "N",
    description: "a token bucket of N requests a second per key, answering 429 past it",
  },
  burst: { type: "string", value: "N", description: "the bucket's size (default: the rate)" },
  mode: {
    type: "string",
    value: "MODE",
    description: `the wait headers a 429 carries: vendor (each vendor's own), ${WAIT_MODES.join(", ")}`,
  },
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values }, io) =>
  Effect.gen(function* () {
    // Listening before anything else, so a stop sent once it says it is ready is always graceful.
    const stopped = yield* stopRequested
    const mode = values.mode ?? "vendor"
    if (mode !== "vendor" && !isWaitMode(mode)) return yield* usage(`--mode is one of vendor, ${WAIT_MODES.join(", ")}`)
    const rate = yield* wholeNumber("rate", values.rate)
    const burst = yield* wholeNumber("burst", values.burst)
    const records = yield* wholeNumber("records", values.records)
    const port = yield* wholeNumber("port", values.port)
    if (port !== undefined && port > 65_535) {
      return yield* usage(`--port takes a port from 0 (any free one) to 65535, not ${port}`)
    }
    const { definitions, invalid } = yield* (yield* Catalog).all
    reportInvalid(io, invalid)
    const generic = derivedFakeDefinitions(definitions.values())
    const sandbox = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          startSandbox({
            generic,
            ...(port !== undefined ? { port } : {}),
            ...(records !== undefined ? { records } : {}),
            ...(rate ? { rateLimit: { perSecond: rate, burst: burst ?? rate, mode } } : {}),
          }),
        catch: (error) => {
          const code = (error as { code?: unknown })?.code
          const detail =
            code === "EADDRINUSE"
              ? `port ${port} is in use; choose another with --port, or --port 0 for any free one`
              : code === "EACCES"
                ? `port ${port} needs privileges; choose one above 1023`
                : error instanceof Error
                  ? error.message
                  : String(error)
          return new SandboxFailed({ detail })
        },
      }),
      (started) => Effect.promise(() => started.stop()),
    )

    // The credentials and settings each fake derived from a definition accepts: the same in both outputs.
    const derived = generic.map((d) => ({ connector: d.id, ...derivedFakeInput(d) }))
    if (io.json) {
      printJson(io, {
        url: sandbox.url,
        baseUrls: sandbox.baseUrls,
        scenarios: SCENARIO_TABLE,
        waitModes: WAIT_MODE_TABLE,
        derivedFakes: derived,
      })
    } else {
      io.out(
        [
          `Keyway sandbox on ${sandbox.url} (loopback only). Ctrl-C stops it.`,
          "",
          table([["VENDOR", "BASE URL"], ...Object.entries(sandbox.baseUrls)]),
          "",
          "Scenarios: the credential value picks the vendor's behaviour.",
          table([["KEY", "BEHAVIOUR"], ...SCENARIO_TABLE.map((s) => [s.key, s.behaviour])]),
          "",
          ...(derived.length > 0
            ? [
                "Connectors served by a fake derived from their definition accept these credentials (and settings, given with --setting):",
                table([
                  ["VENDOR", "CREDENTIALS", "SETTINGS"],
                  ...derived.map(({ connector, credentials, settings }) => [
                    connector,
                    Object.entries(credentials)
                      .map(([key, value]) => `${key}=${value}`)
                      .join(" "),
                    Object.entries(settings)
                      .map(([key, value]) => `${key}=${value}`)
                      .join(" ") || "-",
                  ]),
                ]),
                "",
              ]
            : []),
          "Wait modes for sandbox-429-<mode>-<n>:",
          table([["MODE", "HEADERS"], ...WAIT_MODE_TABLE.map((m) => [m.mode, m.headers])]),
          "",
          `Try: curl -H 'x-api-key: sandbox-valid' '${sandbox.baseUrls.activtrak}/reports/v2/workinghours/users?from=2026-01-01&to=2026-01-07&pageSize=2'`,
          "",
        ].join("\n"),
      )
    }
    yield* stopped
    return EXIT.ok
  }).pipe(Effect.scoped, Effect.provide(catalogFromDir(connectorsDir(io.env))))
