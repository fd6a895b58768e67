/**
 * `keyway connections`: the saved connections of a workspace.
 * `keyway connections test <id> | --all [--sandbox]`: re-test saved connections.
 * `keyway connections remove <id>`.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { Catalog } from "../../catalog/catalog.ts"
import { findConnection, retest, view } from "../../vault/connections.ts"
import { RecordUnreadable } from "../../vault/errors.ts"
import { type Listing, Store } from "../../vault/store.ts"
import { everything } from "../context.ts"
import { EXIT, exitCodeFor, worstExitCode } from "../exit-codes.ts"
import { type Io, parseFlags, printJson, table, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"
import { renderResult } from "../render.ts"

const DAY_MS = 86_400_000

const list = (io: Io) =>
  Effect.gen(function* () {
    const store = yield* Store
    const listing = yield* store.list()
    const records = listing.records.map(view)
    reportUnreadable(io, listing.unreadable)
    if (io.json) printJson(io, records)
    else if (records.length === 0)
      io.out(`No connections in workspace ${store.workspace}. Add one with keyway connect <connector>.\n`)
    else {
      io.out(
        `${table([
          ["ID", "CONNECTOR", "LABEL", "KEY", "LAST TEST", "EXPIRES"],
          ...records.map((r) => [
            r.id,
            r.connector,
            r.label,
            Object.values(r.fingerprints).join(" "),
            r.lastTest ? `${r.lastTest.verdict.outcome} ${r.lastTest.at.slice(0, 16).replace("T", " ")}` : "never",
            r.expiresAt ?? "",
          ]),
        ])}\n`,
      )
    }
    return EXIT.ok
  })

/** Damaged records are named on stderr, so one bad row neither hides the rest nor goes unnoticed. */
const reportUnreadable = (io: Io, unreadable: Listing["unreadable"]): void => {
  for (const { id, problem } of unreadable) {
    io.err(`warning: ${new RecordUnreadable({ id, problem }).message}\n`)
  }
}

const remove = (io: Io, id: string | undefined) =>
  Effect.gen(function* () {
    if (!id) return yield* usage("which connection? keyway connections remove <id>")
    // A damaged record can be removed too: that is the way out the warning points to.
    yield* findConnection(id).pipe(Effect.catchTag("RecordUnreadable", () => Effect.void))
    yield* (yield* Store).remove(id)
    if (io.json) printJson(io, { removed: id })
    else io.out(`Removed ${id}.\n`)
    return EXIT.ok
  })

const test = (io: Io, id: string | undefined, all: boolean) =>
  Effect.gen(function* () {
    const listing = all ? yield* (yield* Store).list() : undefined
    if (listing) reportUnreadable(io, listing.unreadable)
    const ids = listing ? listing.records.map((r) => r.id) : id ? [id] : []
    if (ids.length === 0) {
      return yield* usage(
        all ? "there are no saved connections to test" : "which connection? keyway connections test <id> | --all",
      )
    }
    const catalog = yield* Catalog
    const codes: number[] = []
    const results = []
    for (const [index, connectionId] of ids.entries()) {
      if (!io.json && ids.length > 1) io.err(`[${index + 1}/${ids.length}] testing ${connectionId}...\n`)
      const outcome = yield* retest(connectionId, undefined)
      results.push(outcome)
      codes.push(exitCodeFor(outcome.result.verdict))
      if (!io.json) {
        const definition = yield* Effect.option(catalog.get(outcome.connection.connector))
        const name = definition._tag === "Some" ? definition.value.name : outcome.connection.connector
        io.out(renderResult(`${name} ${connectionId} "${outcome.connection.label}"`, outcome.result))
        const expires = outcome.connection.expiresAt
        if (expires && outcome.result.warnings.length === 0) {
          const days = Math.ceil((Date.parse(expires) - (yield* Clock.currentTimeMillis)) / DAY_MS)
          io.out(`  Expires on ${expires}, in ${days} days.\n`)
        }
      }
    }
    if (io.json) printJson(io, results)
    return worstExitCode(codes)
  })

export const run: CommandRun = (args, io) =>
  Effect.gen(function* () {
    const { values, positionals } = yield* parseFlags(args, {
      all: { type: "boolean" },
      workspace: { type: "string" },
      sandbox: { type: "boolean" },
    })
    const [action, id] = positionals
    const services = everything({ sandbox: values.sandbox ?? false, workspace: values.workspace }, io.env)
    if (action === undefined) return yield* list(io).pipe(Effect.provide(services))
    if (action === "remove") return yield* remove(io, id).pipe(Effect.provide(services))
    if (action === "test") return yield* test(io, id, values.all ?? false).pipe(Effect.provide(services))
    return yield* usage(`unknown action "${action}"; try keyway connections [test <id> | --all | remove <id>]`)
  })
