/**
 * `keyway docs [--check] [--connectors DIR] [--out DIR]`: writes each connector's customer page and
 * an index, from the definitions alone. With --check, writes nothing and fails if a page is stale.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"
import * as Effect from "effect/Effect"
import { formatProblem } from "../../../core/problem.ts"
import { connectorPage, indexPage, pageOptionsFrom } from "../../authoring/docs.ts"
import { connectorsDir, loadConnectorDir, PROJECT_ROOT } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const DOCS_DIR = join(PROJECT_ROOT, "docs", "connectors")

export const options = {
  check: { type: "boolean", description: "write nothing; exit 2 when a page is stale" },
  connectors: { type: "string", value: "DIR", description: "the definitions to document (default: connectors/)" },
  out: { type: "string", value: "DIR", description: "where the pages go (default: docs/connectors/)" },
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values }, io) =>
  Effect.gen(function* () {
    const results = yield* loadConnectorDir(values.connectors ?? connectorsDir(io.env))
    const broken = results.filter((r) => !r.definition)
    if (broken.length > 0) {
      for (const problem of broken.flatMap((r) => r.problems)) io.err(`${formatProblem(problem)}\n`)
      io.err("keyway: fix the definitions above first; docs are generated only from valid ones\n")
      return EXIT.badInput
    }
    const definitions = results.flatMap((r) => (r.definition ? [r.definition] : []))
    const out = values.out ?? DOCS_DIR
    const pages = new Map<string, string>([
      ...results.flatMap((r) =>
        r.definition
          ? [
              [
                `${r.definition.id}.md`,
                connectorPage(r.definition, `connectors/${basename(r.file)}`, pageOptionsFrom(io.env)),
              ] as const,
            ]
          : [],
      ),
      ["README.md", indexPage(definitions)],
    ])
    if (values.check) {
      const stale = [...pages].filter(([name, text]) => {
        const path = join(out, name)
        return !existsSync(path) || readFileSync(path, "utf8") !== text
      })
      if (io.json) printJson(io, { ok: stale.length === 0, stale: stale.map(([name]) => name) })
      for (const [name] of stale) io.err(`keyway: ${join(out, name)} is stale; run npm run docs and commit it\n`)
      return stale.length === 0 ? EXIT.ok : EXIT.badInput
    }
    mkdirSync(out, { recursive: true })
    for (const [name, text] of pages) writeFileSync(join(out, name), text)
    if (io.json) printJson(io, { wrote: [...pages.keys()].map((name) => join(out, name)) })
    else io.out(`Wrote ${pages.size} pages to ${out}\n`)
    return EXIT.ok
  })
