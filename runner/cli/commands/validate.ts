/**
 * `keyway validate [--strict] [files...]`: every problem in every definition; exit 2 if there is an
 * error, or with --strict a warning.
 */
import * as Effect from "effect/Effect"
import { formatProblem } from "../../../core/problem.ts"
import { connectorFiles, connectorsDir, loadConnectorFile } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson } from "../io.ts"
import type { CommandRun } from "../main.ts"
import { counted } from "../render.ts"

/** Problems listed per file; past this many, a count of the rest says how far from valid a file is. */
const LISTED = 300

export const options = {
  strict: { type: "boolean", description: "treat warnings as errors (exit 2 on any)" },
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values, positionals: named }, io) =>
  Effect.gen(function* () {
    const strict = values.strict ?? false
    const files = named.length > 0 ? named : connectorFiles(connectorsDir(io.env))
    const loaded = yield* Effect.forEach(files, loadConnectorFile)
    // Under --strict a warning is an error, and is printed, counted and listed as one.
    const results = loaded.map((result) =>
      strict ? { ...result, problems: result.problems.map((p) => ({ ...p, severity: "error" as const })) } : result,
    )
    const problems = results.flatMap((r) => r.problems)
    const errors = problems.filter((p) => p.severity === "error").length
    const warnings = problems.length - errors
    if (io.json) {
      printJson(io, {
        ok: errors === 0,
        files: results.map((r) => ({
          file: r.file,
          id: r.definition?.id ?? null,
          problems: r.problems.slice(0, LISTED),
          ...(r.problems.length > LISTED ? { unlisted: r.problems.length - LISTED } : {}),
        })),
      })
    } else {
      for (const result of results) {
        for (const problem of result.problems.slice(0, LISTED)) io.err(`${formatProblem(problem)}\n`)
        const rest = result.problems.length - LISTED
        if (rest > 0) io.err(`… and ${rest.toLocaleString("en-US")} more problems in ${result.file}\n`)
      }
      const valid = results.filter((r) => r.definition && !r.problems.some((p) => p.severity === "error")).length
      io.out(
        `${valid} of ${results.length} definitions valid; ${counted(errors, "error")}, ${counted(warnings, "warning")}\n`,
      )
    }
    return errors === 0 ? EXIT.ok : EXIT.badInput
  })
