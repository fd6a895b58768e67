/**
 * `keyway sync <connection> <stream> [--from D --to D] [--param k=v] [--out file] [--resume]
 *   [--sandbox] [--workspace W]`: pulls a report as NDJSON, to stdout or to a file.
 */
import * as Effect from "effect/Effect"
import type { WaitSource } from "../../../core/rate-limit-headers.ts"
import { fileSink, outputProblem, writableSink } from "../../sync/sinks.ts"
import { runSync, type SyncProgress, type SyncSummary } from "../../sync/sync.ts"
import { everything } from "../context.ts"
import { EXIT } from "../exit-codes.ts"
import { type OptionSpecs, parsePairs, SANDBOX_OPTION, usage, WORKSPACE_OPTION } from "../io.ts"
import type { CommandRun } from "../main.ts"
import { counted } from "../render.ts"

const number = (n: number) => n.toLocaleString("en-US")

const WAIT_CAUSES: Readonly<Record<WaitSource | "backoff" | "pace", string>> = {
  "retry-after-seconds": "the vendor's Retry-After",
  "retry-after-date": "the vendor's Retry-After",
  "x-ratelimit-reset-epoch": "the vendor's rate-limit reset",
  "x-ratelimit-reset-delta": "the vendor's rate-limit reset",
  ratelimit: "the vendor's RateLimit header",
  "ratelimit-reset": "the vendor's RateLimit-Reset",
  "vendor-header": "the vendor's wait header",
  backoff: "backoff after a failure",
  pace: "pacing within the vendor's rate limit",
}

/** A wait too short to read is not worth redrawing the line for. */
const worthShowing = (p: SyncProgress): boolean => p.waiting === undefined || p.waiting.ms >= 250

/** One line of where a sync is: pages, records, rate, the date window, and the vendor's waits. */
export const progressLine = (p: SyncProgress): string => {
  const rate = p.elapsedMs > 0 ? (p.records / p.elapsedMs) * 1000 : 0
  const eta =
    p.total !== undefined && rate > 0 && p.slices === 1
      ? ` · ETA ${Math.max(0, Math.ceil((p.total - p.records) / rate))} s`
      : ""
  const window = p.window
    ? ` · ${p.window.from}..${p.window.to}${p.slices > 1 ? ` (window ${p.slice} of ${p.slices})` : ""}`
    : ""
  const waits = `${counted(p.waits, "rate-limit wait")}${p.waits ? ` (${(p.waitedMs / 1000).toFixed(1)} s)` : ""}`
  const waiting = p.waiting
    ? ` · waiting ${(p.waiting.ms / 1000).toFixed(1)} s for ${WAIT_CAUSES[p.waiting.setBy as keyof typeof WAIT_CAUSES] ?? p.waiting.setBy}`
    : ""
  return `${counted(p.records, "record")} · ${counted(p.pages, "page")} · ${number(Math.round(rate))} records/s${window} · ${waits}${eta}${waiting}`
}

/** The line a finished sync ends with. */
export const summaryLine = (summary: SyncSummary): string =>
  `Synced ${counted(summary.records, "record")} of ${summary.stream} in ${counted(summary.pages, "page")}` +
  `${summary.slices > 1 ? ` (${summary.slices} date slices)` : ""} in ${(summary.durationMs / 1000).toFixed(1)} s` +
  `, ${counted(summary.waits, "rate-limit wait")}${summary.resumed ? ", resumed from the last checkpoint" : ""}` +
  `${summary.skipped > 0 ? `; ${counted(summary.skipped, "record")} left out, delivered by an earlier sync` : ""}. Output: ${summary.out}.\n`

export const options = {
  from: {
    type: "string",
    value: "YYYY-MM-DD",
    description: "first day, for streams with a date range (default: where the last sync ended, or 7 days ago)",
  },
  to: { type: "string", value: "YYYY-MM-DD", description: "last day, included (default: today)" },
  param: {
    type: "string",
    multiple: true,
    value: "k=v",
    description: "a stream parameter (keyway streams <connector> lists them)",
  },
  out: {
    type: "string",
    value: "FILE",
    description: "write NDJSON to FILE, renamed into place on completion (default: stdout)",
  },
  resume: { type: "boolean", description: "continue the interrupted sync of this stream from its last checkpoint" },
  sandbox: SANDBOX_OPTION,
  workspace: WORKSPACE_OPTION,
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values, positionals }, io) =>
  Effect.gen(function* () {
    const [connectionId, streamId] = positionals
    if (!connectionId || !streamId) {
      return yield* usage(
        "usage: keyway sync <connection> <stream>; see keyway connections and keyway streams <connector>",
      )
    }
    const params = yield* parsePairs("param", values.param ?? [])
    // Checked before anything is fetched, so a mistyped path costs no vendor calls.
    const out = values.out
    const outProblem = out ? yield* Effect.promise(() => outputProblem(out)) : undefined
    if (outProblem) return yield* usage(`--out ${out} ${outProblem}`)
    const live = !io.json && io.errIsTTY
    const clearLine = Effect.sync(() => {
      if (live) io.err("\r\x1b[2K")
    })
    const summary = yield* runSync({
      connectionId,
      streamId,
      params,
      ...(values.from ? { from: values.from } : {}),
      ...(values.to ? { to: values.to } : {}),
      resume: values.resume ?? false,
      openSink: (resumeAt) => (values.out ? fileSink(values.out, resumeAt) : Promise.resolve(writableSink(io.stdout))),
      ...(live
        ? { onProgress: (p: SyncProgress) => (worthShowing(p) ? io.err(`\r\x1b[2K${progressLine(p)}`) : undefined) }
        : {}),
    }).pipe(
      Effect.provide(everything({ sandbox: values.sandbox ?? false, workspace: values.workspace }, io.env)),
      Effect.ensuring(clearLine),
    )
    // Records may be on stdout; the summary goes there only when they are in a file.
    const say = values.out ? io.out : io.err
    if (io.json) say(`${JSON.stringify(summary)}\n`)
    else {
      say(summaryLine(summary))
    }
    return EXIT.ok
  })
