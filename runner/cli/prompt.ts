/**
 * One answer typed at the terminal, on standard error's side of the screen. The end of input
 * (Ctrl-D, or a closed pipe) and Ctrl-C are the user's answers too: each is a usage error, never a
 * prompt left waiting forever.
 */
import { createInterface } from "node:readline"
import * as Effect from "effect/Effect"
import MuteStream from "mute-stream"
import { type UsageError, usage } from "./io.ts"

export interface PromptOptions {
  /** Echo `*` instead of what is typed: for secrets. */
  readonly silent?: boolean
  /** The answer to an empty line. */
  readonly default?: string
  /** The question may go unanswered: the end of input answers it with nothing, not a failure. */
  readonly optional?: boolean
}

export const promptLine = (question: string, options: PromptOptions = {}): Effect.Effect<string, UsageError> =>
  Effect.async<string, UsageError>((resume) => {
    const shown = `${question.trim()}${options.default ? ` (${options.default})` : ""} `
    const output = new MuteStream({ replace: options.silent ? "*" : undefined, prompt: shown })
    output.pipe(process.stderr, { end: false })
    const rl = createInterface({ input: process.stdin, output, terminal: process.stdin.isTTY === true })
    let settled = false
    const settle = (answer: Effect.Effect<string, UsageError>) => {
      if (settled) return
      settled = true
      rl.close()
      output.mute()
      output.end()
      resume(answer)
    }
    rl.setPrompt(shown)
    rl.prompt()
    if (options.silent) output.mute()
    rl.on("line", (line) => {
      if (options.silent) output.unmute()
      settle(Effect.succeed(line.trim() || options.default || ""))
    })
    rl.on("SIGINT", () => {
      process.stderr.write("\n")
      settle(usage(`cancelled at "${question.trim()}"`))
    })
    rl.on("close", () => {
      if (!settled) process.stderr.write("\n")
      settle(
        options.optional
          ? Effect.succeed(options.default ?? "")
          : usage(`standard input ended before an answer to "${question.trim()}"`),
      )
    })
    return Effect.sync(() => rl.close())
  })
