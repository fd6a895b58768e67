/**
 * `keyway connect <connector> [--label L] [--setting k=v]... [--expires YYYY-MM-DD]
 *   [--save-on-failure] [--workspace W] [--sandbox]`: save & test. Secrets come from a hidden prompt,
 * KEYWAY_<FIELD> variables, or JSON on standard input; never from arguments.
 */
import * as Effect from "effect/Effect"
import { loadCatalog } from "../../catalog/catalog.ts"
import { definitionFor, runOrThrow } from "../../library/index.ts"
import { connect } from "../../vault/connections.ts"
import { openContext, parseSettings } from "../context.ts"
import { exitCodeForOutcome } from "../exit-codes.ts"
import { type Io, parseFlags, printJson, UsageError } from "../io.ts"
import { renderResult } from "../render.ts"
import { collectSecrets, refuseSecretsInArgv } from "../secret-input.ts"

export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const catalog = loadCatalog()
  const connectorId = args[0]
  const definition = connectorId ? catalog.get(connectorId) : undefined
  if (!connectorId || connectorId.startsWith("-") || !definition) {
    throw new UsageError({
      detail: `${connectorId && !connectorId.startsWith("-") ? `no connector "${connectorId}"` : "which connector?"}; one of: ${[...catalog.keys()].join(", ")}`,
    })
  }
  refuseSecretsInArgv(args, definition.credentials)
  const { values } = parseFlags(args.slice(1), {
    label: { type: "string" },
    setting: { type: "string", multiple: true },
    expires: { type: "string" },
    "save-on-failure": { type: "boolean" },
    workspace: { type: "string" },
    sandbox: { type: "boolean" },
  })
  const credentials = await collectSecrets(definition.credentials)
  const context = await openContext({ sandbox: values.sandbox ?? false, workspace: values.workspace })
  try {
    const vault = await context.vault()
    const outcome = await runOrThrow(
      context.keyway.runtime,
      Effect.flatMap(definitionFor(context.keyway.catalog, connectorId), (found) =>
        connect(
          found,
          {
            connectorId,
            credentials,
            settings: parseSettings(values.setting ?? []),
            ...(values.label ? { label: values.label } : {}),
            ...(values.expires ? { expiresAt: values.expires } : {}),
            saveOnFailure: values["save-on-failure"] ?? false,
          },
          vault,
          { sandboxUrl: context.sandboxUrl },
        ),
      ),
    )
    if (io.json) printJson(io, outcome)
    else {
      io.out(renderResult(definition.name, outcome.result))
      io.out(
        outcome.saved
          ? `  Saved as ${outcome.connection?.id} ("${outcome.connection?.label}"), encrypted, in workspace ${vault.store.workspace}.\n`
          : "  Not saved: the test did not pass. Fix the problem and connect again, or use --save-on-failure.\n",
      )
    }
    return exitCodeForOutcome(outcome.result.outcome)
  } finally {
    await context.close()
  }
}
