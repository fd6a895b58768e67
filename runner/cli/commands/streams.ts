/** `keyway streams <connector>`: the report streams a sync can pull, with their parameters. */
import { loadCatalog } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, printJson, table, UsageError } from "../io.ts"

export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const catalog = loadCatalog()
  const definition = args[0] ? catalog.get(args[0]) : undefined
  if (!definition) {
    throw new UsageError({
      detail: `${args[0] ? `no connector "${args[0]}"` : "which connector?"}; one of: ${[...catalog.keys()].join(", ")}`,
    })
  }
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
}
