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
import { type OptionSpecs, parsePairs, printJson, SANDBOX_OPTION, usage, WORKSPACE_OPTION } from "../io.ts"
import type { CommandRun } from "../main.ts"
import { expiryLine, renderResult } from "../render.ts"
import { collectSecrets } from "../secret-input.ts"

export const options = {
  label: {
    type: "string",
    value: "TEXT",
    description: "a name for the connection (default: the connector's name and key fingerprint)",
  },
  setting: {
    type: "string",
    multiple: true,
    value: "k=v",
    description: "a connector setting, such as region=eu (keyway connectors show <id> lists them)",
  },
  expires: {
    type: "string",
    value: "YYYY-MM-DD",
    description:
      "when the credential expires, if you know; otherwise the vendor's default lifetime is used, where it has one",
  },
  "save-on-failure": { type: "boolean", description: "save the connection even when its test fails" },
  workspace: WORKSPACE_OPTION,
  sandbox: SANDBOX_OPTION,
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values, positionals }, io) =>
  Effect.gen(function* () {
    const [connectorId, ...extra] = positionals
    if (!connectorId) return yield* usage("which connector? keyway connect <connector> (keyway connectors lists them)")
    if (extra.length > 0) {
      return yield* usage(
        "keyway connect takes one connector and no other argument; secrets are never taken as arguments (use the prompt, KEYWAY_<FIELD> variables or JSON on standard input)",
      )
    }
    const definition = yield* findDefinition(connectorId).pipe(Effect.provide(catalogFromDir(connectorsDir(io.env))))
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
        const saved = outcome.connection
        io.out(
          saved
            ? `  Saved as ${saved.id} ("${saved.label}"), encrypted, in workspace ${workspace}.\n${expiryLine(saved)}`
            : "  Not saved: the test did not pass. Fix the problem and connect again, or use --save-on-failure.\n",
        )
      }
      return exitCodeFor(outcome.result.verdict)
    }).pipe(Effect.provide(services))
  })
