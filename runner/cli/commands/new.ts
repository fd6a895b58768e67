/**
 * `keyway new <id> [--name N] [--base-url URL] [--auth header|bearer|query|basic] [--param-name P]
 *   [--test-path /path] [--docs-url URL] [--dir DIR]`: writes connectors/<id>.yaml. Asks on a
 * terminal for what the flags leave out; refuses to overwrite an existing file.
 */
import { existsSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import * as Effect from "effect/Effect"
import { formatProblem, loadDefinitionText } from "../../../core/load.ts"
import { type AuthStyle, scaffoldDefinition } from "../../authoring/scaffold.ts"
import { connectorsDir } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, type OptionSpecs, printJson, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"
import { promptLine } from "../prompt.ts"

const STYLES: ReadonlyArray<AuthStyle> = ["header", "bearer", "query", "basic"]

const isStyle = (text: string): text is AuthStyle => (STYLES as ReadonlyArray<string>).includes(text)

/** A flag's value, or an answer at the prompt on a terminal, or the fallback. */
const ask = (io: Io, flag: string | undefined, prompt: string, fallback?: string) => {
  if (flag) return Effect.succeed(flag)
  if (!io.stdin.isTTY) {
    return fallback !== undefined
      ? Effect.succeed(fallback)
      : usage(`${prompt.toLowerCase()} is needed: pass it as a flag (see npx keyway help new)`)
  }
  return promptLine(`${prompt}:`, fallback ? { default: fallback } : {})
}

export const options = {
  name: { type: "string", value: "NAME", description: "the vendor's name, as customers know it" },
  "base-url": { type: "string", value: "URL", description: "the API's https base URL" },
  auth: { type: "string", value: STYLES.join("|"), description: "where the key goes (default: bearer)" },
  "param-name": { type: "string", value: "NAME", description: "the header or query parameter that carries the key" },
  "test-path": {
    type: "string",
    value: "PATH",
    description: "a cheap read-only request that proves the key, e.g. /v1/me",
  },
  "docs-url": { type: "string", value: "URL", description: "the vendor's API documentation" },
  dir: { type: "string", value: "DIR", description: "where to write the file (default: connectors/)" },
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values, positionals }, io) =>
  Effect.gen(function* () {
    const id = positionals[0]
    if (!id || !/^[a-z][a-z0-9-]*$/.test(id)) {
      return yield* usage("usage: keyway new <id>, where id is lower-case letters, digits and -, e.g. acme-analytics")
    }
    const file = join(values.dir ?? connectorsDir(io.env), `${id}.yaml`)
    if (existsSync(file)) return yield* usage(`${file} already exists; keyway new never overwrites a definition`)

    const name = yield* ask(io, values.name, "Vendor name")
    const baseUrl = yield* ask(io, values["base-url"], "Base URL (https://...)")
    const auth = yield* ask(io, values.auth, `Auth placement (${STYLES.join(", ")})`, "bearer")
    if (!isStyle(auth)) return yield* usage(`--auth is one of ${STYLES.join(", ")}`)
    const testPath = yield* ask(io, values["test-path"], "Test request path (/...)")
    if (!/^https:\/\/[^\s/]+/.test(baseUrl)) return yield* usage("the base URL must start with https://")
    if (!testPath.startsWith("/")) return yield* usage("the test path must start with /")

    const text = scaffoldDefinition({
      id,
      name,
      baseUrl,
      auth,
      testPath,
      ...(values["param-name"] ? { paramName: values["param-name"] } : {}),
      ...(values["docs-url"] ? { docsUrl: values["docs-url"] } : {}),
    })
    const check = loadDefinitionText(file, text)
    if (!check.definition) {
      return yield* usage(
        `these answers do not make a valid definition:\n${check.problems.map(formatProblem).join("\n")}`,
      )
    }
    writeFileSync(file, text, { flag: "wx" })
    if (io.json) printJson(io, { wrote: file })
    else {
      io.out(
        `Wrote ${file}.\nNext: fill in the setup steps, error rules and rate limits from ${name}'s API docs, then\n  npx keyway validate ${relative(process.cwd(), file) || file}\n  npm run docs\n  npm test    (the conformance suite covers the new file)\n`,
      )
    }
    return EXIT.ok
  })
