/**
 * Where `keyway connect` gets secrets: a hidden prompt on a terminal; otherwise KEYWAY_<FIELD>
 * environment variables, or a JSON object on standard input. Never the command line, where
 * secrets end up in shell history and process lists.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { Credential } from "../../core/definition.ts"
import { type Io, STDIN_LIMIT, type UsageError, usage } from "./io.ts"
import { promptLine } from "./prompt.ts"

/** `apiKey` → `KEYWAY_API_KEY` */
export const envName = (key: string): string => `KEYWAY_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`

const NOT_AN_OBJECT = 'standard input must be a JSON object such as {"apiKey": "..."}'

const parseStdin = (text: string): Effect.Effect<Record<string, string>, UsageError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return usage(NOT_AN_OBJECT)
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return usage(NOT_AN_OBJECT)
  const values: Record<string, string> = {}
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== "string") return usage(`"${key}" on standard input must be a string`)
    values[key] = value
  }
  return Effect.succeed(values)
}

/** The credentials, each made opaque the moment it is read: only a fingerprint of one is ever shown. */
export const collectSecrets = (
  credentials: ReadonlyArray<Credential>,
  io: Pick<Io, "env" | "stdin">,
  options: SecretPrompt = {},
): Effect.Effect<Record<string, Redacted.Redacted<string>>, UsageError> =>
  Effect.map(readSecrets(credentials, io, options), (values) =>
    Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Redacted.make(value)])),
  )

export interface SecretPrompt {
  /** Replacing saved credentials: each may be left out, and keeps its saved value. */
  readonly keepable?: boolean
}

const readSecrets = (
  credentials: ReadonlyArray<Credential>,
  io: Pick<Io, "env" | "stdin">,
  options: SecretPrompt,
): Effect.Effect<Record<string, string>, UsageError> =>
  Effect.gen(function* () {
    const values: Record<string, string> = {}
    for (const credential of credentials) {
      const fromEnv = io.env[envName(credential.key)]
      if (fromEnv) values[credential.key] = fromEnv
    }
    if (io.stdin.isTTY) {
      for (const credential of credentials) {
        if (values[credential.key]) continue
        const optional = !(credential.required ?? true)
        const hint = options.keepable ? " (Enter to keep the saved one)" : optional ? " (optional, Enter to skip)" : ""
        const answer = yield* promptLine(`${credential.label}${hint}:`, {
          silent: credential.secret,
          optional: optional || options.keepable === true,
        })
        if (answer) values[credential.key] = answer
      }
      return values
    }
    const piped = yield* Effect.promise(io.stdin.read)
    if (piped === undefined) {
      return yield* usage(
        `standard input holds more than ${STDIN_LIMIT / 1024} KiB; credentials are a JSON object such as {"apiKey": "..."}`,
      )
    }
    const text = piped.trim()
    return text === "" ? values : { ...values, ...(yield* parseStdin(text)) }
  })
