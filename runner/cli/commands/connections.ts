/**
 * `keyway connections`: the saved connections of a workspace.
 * `keyway connections test <id> | --all [--sandbox]`: re-test saved connections.
 * `keyway connections remove <id>`.
 */
import { loadCatalog } from "../../catalog/catalog.ts"
import { runOrThrow, runPlain } from "../../library/index.ts"
import { findConnection, retest, view } from "../../vault/connections.ts"
import { openContext } from "../context.ts"
import { EXIT, exitCodeForOutcome, worstExitCode } from "../exit-codes.ts"
import { type Io, parseFlags, printJson, table, UsageError } from "../io.ts"
import { renderResult } from "../render.ts"

const DAY_MS = 86_400_000

export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values, positionals } = parseFlags(args, {
    all: { type: "boolean" },
    workspace: { type: "string" },
    sandbox: { type: "boolean" },
  })
  const [action, id] = positionals
  const context = await openContext({ sandbox: values.sandbox ?? false, workspace: values.workspace })
  try {
    const vault = await context.vault()
    if (action === undefined) {
      const records = (await runPlain(vault.store.list())).map(view)
      if (io.json) printJson(io, records)
      else if (records.length === 0)
        io.out(`No connections in workspace ${vault.store.workspace}. Add one with keyway connect <connector>.\n`)
      else {
        io.out(
          `${table([
            ["ID", "CONNECTOR", "LABEL", "KEY", "LAST TEST", "EXPIRES"],
            ...records.map((r) => [
              r.id,
              r.connector,
              r.label,
              Object.values(r.fingerprints).join(" "),
              r.lastTest ? `${r.lastTest.outcome} ${r.lastTest.at.slice(0, 16).replace("T", " ")}` : "never",
              r.expiresAt ?? "",
            ]),
          ])}\n`,
        )
      }
      return EXIT.ok
    }
    if (action === "remove") {
      if (!id) throw new UsageError({ detail: "which connection? keyway connections remove <id>" })
      await runOrThrow(context.keyway.runtime, findConnection(vault, id))
      await runPlain(vault.store.remove(id))
      if (io.json) printJson(io, { removed: id })
      else io.out(`Removed ${id}.\n`)
      return EXIT.ok
    }
    if (action === "test") {
      const ids = values.all ? (await runPlain(vault.store.list())).map((r) => r.id) : id ? [id] : []
      if (ids.length === 0) {
        throw new UsageError({
          detail: values.all
            ? "there are no saved connections to test"
            : "which connection? keyway connections test <id> | --all",
        })
      }
      const catalog = loadCatalog()
      const codes: number[] = []
      const results = []
      for (const [index, connectionId] of ids.entries()) {
        if (!io.json && ids.length > 1) io.err(`[${index + 1}/${ids.length}] testing ${connectionId}...\n`)
        const outcome = await runOrThrow(
          context.keyway.runtime,
          retest(catalog, vault, connectionId, undefined, { sandboxUrl: context.sandboxUrl }),
        )
        results.push(outcome)
        codes.push(exitCodeForOutcome(outcome.result.outcome))
        if (!io.json) {
          const name = catalog.get(outcome.connection.connector)?.name ?? outcome.connection.connector
          io.out(renderResult(`${name} ${connectionId} "${outcome.connection.label}"`, outcome.result))
          const expires = outcome.connection.expiresAt
          if (expires && outcome.result.warnings.length === 0) {
            const days = Math.ceil((Date.parse(expires) - Date.now()) / DAY_MS)
            io.out(`  Expires on ${expires}, in ${days} days.\n`)
          }
        }
      }
      if (io.json) printJson(io, results)
      return worstExitCode(codes)
    }
    throw new UsageError({
      detail: `unknown action "${action}"; try keyway connections [test <id> | --all | remove <id>]`,
    })
  } finally {
    await context.close()
  }
}
