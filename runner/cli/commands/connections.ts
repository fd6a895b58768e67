/**
 * `keyway connections`: the saved connections of a workspace, with expiry warnings.
 * `keyway connections test <id> | --all [--sandbox]`: re-test saved connections.
 * `keyway connections update <id> [--expires D] [--sandbox]`: new credentials, through the same
 *   secret input as connect; they replace the stored ones only when they pass.
 * `keyway connections remove <id>`.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { expiryWarning } from "../../../core/expiry.ts"
import { Catalog, findDefinition } from "../../catalog/catalog.ts"
import { type ConnectionView, findConnection, retest, view } from "../../vault/connections.ts"
import { RecordUnreadable } from "../../vault/errors.ts"
import { type Listing, Store } from "../../vault/store.ts"
import { everything } from "../context.ts"
import { EXIT, exitCodeFor, worstExitCode } from "../exit-codes.ts"
import {
  type Io,
  type OptionSpecs,
  printJson,
  SANDBOX_OPTION,
  table,
  unknownWord,
  usage,
  WORKSPACE_OPTION,
} from "../io.ts"
import type { CommandRun } from "../main.ts"
import { expiryLine, renderResult } from "../render.ts"
import { collectSecrets } from "../secret-input.ts"

const list = (io: Io) =>
  Effect.gen(function* () {
    const store = yield* Store
    const listing = yield* store.list()
    const records = listing.records.map(view)
    reportUnreadable(io, listing.unreadable)
    const now = yield* Clock.currentTimeMillis
    // Each connection whose credential expires within 30 days says so, more urgently at 7 and at 1.
    const warnings = records.flatMap((r) => {
      const expiry = expiryOf(r)
      const warning = expiry && expiryWarning(`${r.id} ("${r.label}"):`, expiry, now)
      return warning ? [warning] : []
    })
    if (!io.json) for (const warning of warnings) io.err(`warning: ${warning}\n`)
    if (io.json) printJson(io, records)
    else if (records.length === 0)
      io.out(`No connections in workspace ${store.workspace}. Add one with npx keyway connect <connector>.\n`)
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
            r.expiresAt ? `${r.expiresAt}${r.expirySource === "estimated" ? " (est.)" : ""}` : "",
          ]),
        ])}\n`,
      )
    }
    return EXIT.ok
  })

const expiryOf = (connection: ConnectionView) =>
  connection.expiresAt ? { date: connection.expiresAt, source: connection.expirySource ?? "given" } : undefined

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
        if (outcome.result.warnings.length === 0) io.out(expiryLine(outcome.connection))
      }
    }
    if (io.json) printJson(io, results)
    return worstExitCode(codes)
  })

/** New credentials for a saved connection: tested first, and stored only when they pass. */
const update = (io: Io, id: string | undefined, expiresAt: string | undefined) =>
  Effect.gen(function* () {
    if (!id) return yield* usage("which connection? keyway connections update <id>")
    const record = yield* findConnection(id)
    const definition = yield* findDefinition(record.connector)
    const credentials = yield* collectSecrets(definition.credentials, io, { keepable: true })
    if (Object.keys(credentials).length === 0) {
      return yield* usage(
        'no new credentials given: type them at the prompt, set KEYWAY_<FIELD> variables, or pipe a JSON object such as {"apiKey": "..."}',
      )
    }
    const outcome = yield* retest(id, { credentials, ...(expiresAt ? { expiresAt } : {}) })
    if (io.json) printJson(io, outcome)
    else {
      io.out(renderResult(`${definition.name} ${id} "${outcome.connection.label}"`, outcome.result))
      io.out(
        outcome.replaced
          ? `  The new credentials passed and replace the stored ones, encrypted.\n${expiryLine(outcome.connection)}`
          : "  The new credentials did not pass: the stored ones are kept, unchanged, and still used.\n",
      )
    }
    return exitCodeFor(outcome.result.verdict)
  })

const ACTIONS = ["test", "update", "remove"]

export const options = {
  all: { type: "boolean", description: "with test: every connection in the workspace" },
  expires: {
    type: "string",
    value: "YYYY-MM-DD",
    description: "with update: when the new credential expires, if you know",
  },
  workspace: WORKSPACE_OPTION,
  sandbox: SANDBOX_OPTION,
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values, positionals }, io) =>
  Effect.gen(function* () {
    const [action, id] = positionals
    const services = everything({ sandbox: values.sandbox ?? false, workspace: values.workspace }, io.env)
    if (action === undefined) return yield* list(io).pipe(Effect.provide(services))
    if (action === "remove") return yield* remove(io, id).pipe(Effect.provide(services))
    if (action === "test") return yield* test(io, id, values.all ?? false).pipe(Effect.provide(services))
    if (action === "update") return yield* update(io, id, values.expires).pipe(Effect.provide(services))
    return yield* unknownWord("action", action, ACTIONS, "npx keyway help connections")
  })
