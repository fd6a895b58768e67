/**
 * Where `keyway connect` gets secrets: a hidden prompt on a terminal; otherwise KEYWAY_<FIELD>
 * environment variables, or a JSON object on standard input. Never the command line, where
 * secrets end up in shell history and process lists.
 */
import { read } from "read"
import type { Credential } from "../../core/definition.ts"
import { UsageError } from "./io.ts"

/** `apiKey` → `KEYWAY_API_KEY` */
export const envName = (key: string): string => `KEYWAY_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`

/** Refuses any argument that looks like a secret being passed on the command line. */
export const refuseSecretsInArgv = (args: ReadonlyArray<string>, credentials: ReadonlyArray<Credential>): void => {
  const names = new Set(
    credentials.flatMap((c) => [c.key.toLowerCase(), c.key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()]),
  )
  for (const name of ["credential", "credentials", "secret", "token", "password", "key", "api-key", "apikey"]) {
    names.add(name)
  }
  for (const arg of args) {
    const flag = /^--([A-Za-z-]+)(=|$)/.exec(arg)?.[1]?.toLowerCase()
    if (flag && names.has(flag)) {
      throw new UsageError({
        detail: `secrets are never taken as arguments (--${flag}): they end up in shell history and process lists. Use the prompt on a terminal, ${credentials.map((c) => envName(c.key)).join(" / ")}, or a JSON object on standard input`,
      })
    }
  }
}

const readStdin = async (): Promise<string> => {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}

export const collectSecrets = async (
  credentials: ReadonlyArray<Credential>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, string>> => {
  const values: Record<string, string> = {}
  for (const credential of credentials) {
    const fromEnv = env[envName(credential.key)]
    if (fromEnv) values[credential.key] = fromEnv
  }
  if (process.stdin.isTTY) {
    for (const credential of credentials) {
      if (values[credential.key]) continue
      const optional = !(credential.required ?? true)
      const answer = await read({
        prompt: `${credential.label}${optional ? " (optional, Enter to skip)" : ""}: `,
        silent: credential.secret,
        replace: credential.secret ? "*" : "",
        output: process.stderr,
      })
      if (answer) values[credential.key] = String(answer)
    }
    return values
  }
  const text = (await readStdin()).trim()
  if (text === "") return values
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UsageError({ detail: 'standard input must be a JSON object such as {"apiKey": "..."}' })
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError({ detail: 'standard input must be a JSON object such as {"apiKey": "..."}' })
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== "string") throw new UsageError({ detail: `"${key}" on standard input must be a string` })
    values[key] = value
  }
  return values
}
