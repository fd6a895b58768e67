/** `keyway streams <connector>`: the report streams a sync can pull, with their parameters. */
import * as Effect from "effect/Effect"
import { catalogFromDir, connectorsDir, findDefinition } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, printJson, table, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"

export const options = {} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ positionals }, io) =>
  Effect.gen(function* () {
    const [connectorId] = positionals
    if (!connectorId) return yield* usage("which connector? keyway streams <connector>")
    const definition = yield* findDefinition(connectorId)
    const streams = definition.reports ?? []
    if (io.json) {
      printJson(io, streams)
      return EXIT.ok
    }
    const rows = streams.map((s) => {
      const params = (s.params ?? []).map((p) => `${p.key}${p.required ? "" : "?"}`)
      if (s.dateRange) params.unshift("--from", "--to")
      return [
        s.id,
        s.paging.kind,
        params.join(" ") || "-",
        s.incremental
          ? `by ${s.incremental.cursorField}`
          : s.paging.kind === "cursor" || s.paging.kind === "feed"
            ? "by position"
            : "-",
        s.description + (s.assumed ? " (has assumptions)" : ""),
      ]
    })
    io.out(`${table([["STREAM", "PAGING", "PARAMETERS", "INCREMENTAL", "DESCRIPTION"], ...rows])}\n`)
    return EXIT.ok
  }).pipe(Effect.provide(catalogFromDir(connectorsDir(io.env))))
