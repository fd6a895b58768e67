/**
 * `keyway connect <connector> [--label L] [--setting k=v]... [--expires YYYY-MM-DD]
 *   [--save-on-failure] [--workspace W] [--sandbox]`: save & test. Secrets come from a hidden prompt,
 * KEYWAY_<FIELD> variables, or JSON on standard input; never from arguments.
 */
import * as Effect from "effect/Effect"
import { catalogFromDir, connectorsDir, findDefinition } from "../../catalog/catalog.ts"
import { connect } from "../../vault/connections.ts"
import { Store } from "../../vault/store.ts"
import { everything } from "../context.ts"
import { exitCodeFor } from "../exit-codes.ts"
import { parseFlags, parsePairs, printJson, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"
import { renderResult } from "../render.ts"
import { collectSecrets, refuseSecretsInArgv } from "../secret-input.ts"

export const run: CommandRun = (args, io) =>
  Effect.gen(function* () {
    const connectorId = args[0]
    if (!connectorId || connectorId.startsWith("-")) return yield* usage("which connector? keyway connect <connector>")
    const definition = yield* findDefinition(connectorId).pipe(Effect.provide(catalogFromDir(connectorsDir(io.env))))
    yield* refuseSecretsInArgv(args, definition.credentials)
    const { values } = yield* parseFlags(args.slice(1), {
      label: { type: "string" },
      setting: { type: "string", multiple: true },
      expires: { type: "string" },
      "save-on-failure": { type: "boolean" },
      workspace: { type: "string" },
      sandbox: { type: "boolean" },
    })
    const settings = yield* parsePairs("setting", values.setting ?? [])
    const credentials = yield* collectSecrets(definition.credentials, io)
    const services = everything({ sandbox: values.sandbox ?? false, workspace: values.workspace }, io.env)
    return yield* Effect.gen(function* () {
      const outcome = yield* connect(definition, {
        connectorId,
        credentials,
        settings,
        ...(values.label ? { label: values.label } : {}),
        ...(values.expires ? { expiresAt: values.expires } : {}),
        saveOnFailure: values["save-on-failure"] ?? false,
      })
      const { workspace } = yield* Store
      if (io.json) printJson(io, outcome)
      else {
        io.out(renderResult(definition.name, outcome.result))
        io.out(
          outcome.saved
            ? `  Saved as ${outcome.connection?.id} ("${outcome.connection?.label}"), encrypted, in workspace ${workspace}.\n`
            : "  Not saved: the test did not pass. Fix the problem and connect again, or use --save-on-failure.\n",
        )
      }
      return exitCodeFor(outcome.result.verdict)
    }).pipe(Effect.provide(services))
  })
