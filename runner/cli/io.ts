/**
 * What a command may touch: its arguments, its output streams and whether the user wants JSON.
 * Commands write through this, never to `process` directly, so tests can run them in-process.
 */
import type { Writable } from "node:stream"
import { type ParseArgsConfig, parseArgs } from "node:util"
import editDistance from "damerau-levenshtein"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { formatProblem, type Problem } from "../../core/problem.ts"

export interface Io {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  readonly json: boolean
  readonly env: NodeJS.ProcessEnv
  /**
   * Standard input: a terminal to prompt on, or text piped in. `read` gives at most `STDIN_LIMIT`
   * bytes, and undefined when there is more: nothing needs more, and a flood must not fill memory.
   */
  readonly stdin: { readonly isTTY: boolean; readonly read: () => Promise<string | undefined> }
  /** Where a command streams large output (sync's records), with backpressure. */
  readonly stdout: Writable
  /** Standard error is a terminal: progress lines may update in place. */
  readonly errIsTTY: boolean
}

/** Credentials are JSON of a few hundred bytes; 64 KiB is far more than any needs. */
export const STDIN_LIMIT = 64 * 1024

/** Reads standard input up to `STDIN_LIMIT` bytes; stops reading, and answers undefined, past it. */
const readAtMost = async (input: NodeJS.ReadStream): Promise<string | undefined> => {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of input) {
    const bytes = Buffer.from(chunk as Buffer | string)
    size += bytes.length
    if (size > STDIN_LIMIT) {
      input.destroy()
      return undefined
    }
    chunks.push(bytes)
  }
  return Buffer.concat(chunks).toString("utf8")
}

/** The real process's streams and environment. */
export const processIo = (): Omit<Io, "json"> => ({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  stdin: { isTTY: process.stdin.isTTY === true, read: () => readAtMost(process.stdin) },
  stdout: process.stdout,
  errIsTTY: process.stderr.isTTY === true,
})

/** Wrong arguments: printed as one line, exit code 2, no stack trace. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

export const usage = (detail: string): Effect.Effect<never, UsageError> => Effect.fail(new UsageError({ detail }))

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A duration option (`30m`, `6h`, `1d`, or `0`) in ms; a usage error naming the option otherwise. */
export const duration = (flag: string, text: string): Effect.Effect<number, UsageError> => {
  if (text === "0") return Effect.succeed(0)
  const match = /^(\d+)([smhd])$/.exec(text)
  return match
    ? Effect.succeed(Number(match[1]) * (DURATION_UNITS[match[2] as string] as number))
    : usage(`--${flag} is a duration such as 30m, 6h or 1d, not "${text}"`)
}

export const printJson = (io: Io, value: unknown): void => io.out(`${JSON.stringify(value, null, 2)}\n`)

/** A plain text table; the last column is left unpadded. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows.reduce<number[]>(
    (acc, row) => row.map((cell, index) => Math.max(acc[index] ?? 0, cell.length)),
    [],
  )
  return rows
    .map((row) =>
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
}

/** Definition files that did not load: each problem as file:line:col, then the command goes on without them. */
export const reportInvalid = (io: Io, invalid: ReadonlyArray<{ readonly problems: ReadonlyArray<Problem> }>): void => {
  for (const result of invalid) for (const problem of result.problems) io.err(`${formatProblem(problem)}\n`)
}

/** One option of a command: how `node:util`'s parseArgs reads it, and what its help says. */
export interface OptionSpec {
  readonly type: "string" | "boolean"
  readonly multiple?: boolean
  readonly description: string
  /** The value's name in the help, e.g. `FILE`. */
  readonly value?: string
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>

/** The options several commands share, described once. */
export const WORKSPACE_OPTION = {
  type: "string",
  value: "NAME",
  description: "the workspace (tenant) whose connections to use; default KEYWAY_WORKSPACE, or default",
} as const satisfies OptionSpec
export const SANDBOX_OPTION = {
  type: "boolean",
  description: "talk to the vendor fakes on loopback (KEYWAY_SANDBOX_URL, or one started for this command)",
} as const satisfies OptionSpec

type ValueOf<S extends OptionSpec> = S["type"] extends "boolean"
  ? boolean
  : S["multiple"] extends true
    ? ReadonlyArray<string>
    : string

/** A command's arguments, parsed against its options. */
export interface Parsed<O extends OptionSpecs> {
  readonly values: { readonly [K in keyof O]?: ValueOf<O[K]> }
  readonly positionals: ReadonlyArray<string>
}

/**
 * The closest of `candidates` to a mistyped `word`, when one is close enough to be what was meant:
 * two edits for a short word, a third of a long one (a swap of two letters is one edit).
 */
export const nearest = (word: string, candidates: Iterable<string>): string | undefined => {
  let best: { readonly candidate: string; readonly steps: number } | undefined
  for (const candidate of candidates) {
    const { steps } = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (steps > Math.max(2, Math.floor(candidate.length / 3)) || steps >= candidate.length) continue
    if (!best || steps < best.steps) best = { candidate, steps }
  }
  return best?.candidate
}

const didYouMean = (word: string, candidates: Iterable<string>, prefix = ""): string => {
  const found = nearest(word, candidates)
  return found ? `; did you mean ${prefix}${found}?` : "."
}

/** An option's name that says it carries a secret: refused with the reason, never parsed. */
const SECRET_LIKE = /key|token|secret|passw|credential/i

/** The arguments, parsed against `options`; a mistake is one usage line that never repeats a value. */
export const parseFlags = <O extends OptionSpecs>(
  args: ReadonlyArray<string>,
  options: O,
  /** Where the options are listed, for the error to point at. */
  see = "keyway --help",
): Effect.Effect<Parsed<O>, UsageError> =>
  Effect.try({
    try: () =>
      parseArgs({
        args: [...args],
        options: options as NonNullable<ParseArgsConfig["options"]>,
        allowPositionals: true,
        strict: true,
      }) as unknown as Parsed<O>,
    catch: (error) => {
      const code = (error as { code?: unknown })?.code
      const flag = /'(--?[^'=]+)/.exec(error instanceof Error ? error.message : "")?.[1]
      if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) {
        const name = flag.replace(/^-+/, "")
        if (SECRET_LIKE.test(name)) {
          return new UsageError({
            detail: `secrets are never taken as arguments (${flag}): they end up in shell history and process lists. Use the prompt on a terminal, KEYWAY_<FIELD> variables (KEYWAY_API_KEY for apiKey), or a JSON object on standard input`,
          })
        }
        return new UsageError({
          detail: `unknown option ${flag}${didYouMean(name, Object.keys(options), "--")} See ${see}.`,
        })
      }
      return new UsageError({ detail: error instanceof Error ? error.message : String(error) })
    },
  })

/** A usage error for an unknown word among `known` (an action, a command), with the nearest suggested. */
export const unknownWord = (what: string, word: string, known: Iterable<string>, see: string) =>
  usage(`unknown ${what} "${word}"${didYouMean(word, known)} See ${see}.`)

/** `--setting k=v` pairs, as a record. */
export const parsePairs = (
  flag: string,
  pairs: ReadonlyArray<string>,
): Effect.Effect<Record<string, string>, UsageError> =>
  Effect.suspend(() => {
    const values: Record<string, string> = {}
    for (const pair of pairs) {
      const at = pair.indexOf("=")
      if (at < 1) return usage(`--${flag} takes key=value, not "${pair}"`)
      values[pair.slice(0, at)] = pair.slice(at + 1)
    }
    return Effect.succeed(values)
  })

/**
 * Listens for a request to stop (Ctrl-C, or SIGTERM from a supervisor) from now on, for the scope;
 * answers an Effect that resolves once one has come. Taken before a long-running command says it is
 * ready, so a SIGTERM sent the moment it says so is never met by Node's default, an abrupt exit.
 */
export const stopRequested: Effect.Effect<Effect.Effect<void>, never, Scope.Scope> = Effect.gen(function* () {
  let stop: () => void = () => {}
  const requested = new Promise<void>((resolve) => {
    stop = resolve
  })
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      process.once("SIGINT", stop)
      process.once("SIGTERM", stop)
    }),
    () =>
      Effect.sync(() => {
        process.off("SIGINT", stop)
        process.off("SIGTERM", stop)
      }),
  )
  return Effect.promise(() => requested)
})
