/**
 * `keyway sandbox [--port N] [--records N] [--rate N --burst N --mode M]`: serves the four vendor
 * fakes on loopback until interrupted, and prints their base URLs and the scenario keys.
 */

import { conformanceCredentials } from "../../../fixtures/generic-fake.ts"
import { SCENARIO_TABLE, WAIT_MODE_TABLE, WAIT_MODES, type WaitMode } from "../../../fixtures/scenarios.ts"
import { loadCatalog } from "../../catalog/catalog.ts"
import { SANDBOX_VENDORS, startSandbox } from "../../sandbox/server.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, parseFlags, printJson, table, UsageError } from "../io.ts"

const wholeNumber = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) throw new UsageError({ detail: `--${name} takes a whole number, not "${text}"` })
  return Number(text)
}

export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values } = parseFlags(args, {
    port: { type: "string" },
    records: { type: "string" },
    rate: { type: "string" },
    burst: { type: "string" },
    mode: { type: "string" },
  })
  const mode = values.mode ?? "vendor"
  if (mode !== "vendor" && !(WAIT_MODES as ReadonlyArray<string>).includes(mode)) {
    throw new UsageError({ detail: `--mode is one of vendor, ${WAIT_MODES.join(", ")}` })
  }
  const rate = wholeNumber("rate", values.rate)
  const records = wholeNumber("records", values.records)
  const port = wholeNumber("port", values.port)
  // Connectors with no hand-written fake get one derived from their definition.
  const generic = [...loadCatalog().values()].filter((d) => !(d.id in SANDBOX_VENDORS))
  const sandbox = await startSandbox({
    generic,
    ...(port !== undefined ? { port } : {}),
    ...(records !== undefined ? { records } : {}),
    ...(rate
      ? {
          rateLimit: {
            perSecond: rate,
            burst: wholeNumber("burst", values.burst) ?? rate,
            mode: mode as WaitMode | "vendor",
          },
        }
      : {}),
  })

  if (io.json) {
    printJson(io, {
      url: sandbox.url,
      baseUrls: sandbox.baseUrls,
      scenarios: SCENARIO_TABLE,
      waitModes: WAIT_MODE_TABLE,
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
        ...(generic.length > 0
          ? [
              "Connectors served by a fake derived from their definition accept these credentials:",
              table([
                ["VENDOR", "CREDENTIALS"],
                ...generic.map((d) => [
                  d.id,
                  Object.entries(conformanceCredentials(d))
                    .map(([key, value]) => `${key}=${value}`)
                    .join(" "),
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
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve)
    process.once("SIGTERM", resolve)
  })
  await sandbox.stop()
  return EXIT.ok
}
