/**
 * What a command may touch: its arguments, its output streams and whether the user wants JSON.
 * Commands write through this, never to `process` directly, so tests can run them in-process.
 */
import type { Writable } from "node:stream"
import { type ParseArgsConfig, parseArgs } from "node:util"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
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

/** `node:util`'s parseArgs, with its errors as one-line usage errors. */
export const parseFlags = <O extends NonNullable<ParseArgsConfig["options"]>>(
  args: ReadonlyArray<string>,
  options: O,
) =>
  Effect.try({
    try: () => parseArgs({ args: [...args], options, allowPositionals: true, strict: true }),
    catch: (error) => new UsageError({ detail: error instanceof Error ? error.message : String(error) }),
  })

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
