/**
 * `keyway new <id> [--name N] [--base-url URL] [--auth header|bearer|query|basic] [--param-name P]
 *   [--test-path /path] [--docs-url URL] [--dir DIR]`: writes connectors/<id>.yaml. Asks on a
 * terminal for what the flags leave out; refuses to overwrite an existing file.
 */
import { existsSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import * as Effect from "effect/Effect"
import { formatProblem, loadDefinitionText } from "../../../core/load.ts"
import { type AuthStyle, type ScaffoldInput, scaffoldDefinition, WAIT_UNITS } from "../../authoring/scaffold.ts"
import { connectorsDir } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, type OptionSpecs, printJson, usage } from "../io.ts"
import type { CommandRun } from "../main.ts"
import { promptLine } from "../prompt.ts"

const STYLES: ReadonlyArray<AuthStyle> = ["header", "bearer", "query", "basic", "aws-sigv4"]

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

/** An optional feature: its flag, or on a terminal an answer that may be empty, or nothing. */
const askOptional = (io: Io, flag: string | ReadonlyArray<string> | undefined, prompt: string) => {
  if (typeof flag === "string") return Effect.succeed(flag)
  if (flag && flag.length > 0) return Effect.succeed(flag.join(" "))
  if (!io.stdin.isTTY) return Effect.succeed("")
  return promptLine(`${prompt} (Enter for none):`, { optional: true })
}

/** `a=1 b=2` or `Name: value; Other: value` as pairs. */
const pairs = (text: string, separator: RegExp, between: string): Array<[string, string]> =>
  text
    .split(separator)
    .map((item) => item.trim())
    .filter((item) => item !== "")
    .map((item) => {
      const at = item.indexOf(between)
      return [item.slice(0, at).trim(), item.slice(at + between.length).trim()]
    })

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
  region: {
    type: "string",
    multiple: true,
    value: "NAME=URL",
    description: "a region and its base URL; repeat for each (the first is the default)",
  },
  header: {
    type: "string",
    multiple: true,
    value: "'NAME: VALUE'",
    description: "a header every request needs, such as a versioned Accept; repeat for each",
  },
  "test-body": {
    type: "string",
    value: "JSON",
    description: "a JSON body: the test is then a read-only POST (GraphQL)",
  },
  "wait-header": {
    type: "string",
    value: `NAME:${WAIT_UNITS.join("|")}`,
    description: "a wait header under the vendor's own name, and its unit",
  },
  "key-pattern": {
    type: "string",
    value: "REGEX",
    description: "the key's format; the sandbox makes test keys from it",
  },
  dir: { type: "string", value: "DIR", description: "where to write the file (default: connectors/)" },
} as const satisfies OptionSpecs

export const run: CommandRun<typeof options> = ({ values, positionals }, io) =>
  Effect.gen(function* () {
    const id = positionals[0]
    if (!id || !/^[a-z0-9][a-z0-9-]*$/.test(id)) {
      return yield* usage(
        "usage: keyway new <id>, where id is lower-case letters, digits and -, e.g. acme-analytics or 15five",
      )
    }
    const file = join(values.dir ?? connectorsDir(io.env), `${id}.yaml`)
    if (existsSync(file)) return yield* usage(`${file} already exists; keyway new never overwrites a definition`)

    const name = yield* ask(io, values.name, "Vendor name")
    const baseUrl = yield* ask(io, values["base-url"], "Base URL (https://...)")
    const auth = yield* ask(io, values.auth, `Auth placement (${STYLES.join(", ")})`, "bearer")
    if (!isStyle(auth)) return yield* usage(`--auth is one of ${STYLES.join(", ")}`)
    const testPath = yield* ask(
      io,
      values["test-path"],
      "Test request path (/..., {accountId} for an id that is not secret)",
    )
    if (!/^https:\/\/[^\s/]+/.test(baseUrl)) return yield* usage("the base URL must start with https://")
    if (!testPath.startsWith("/")) return yield* usage("the test path must start with /")
    const regions = pairs(yield* askOptional(io, values.region, "Regions, each NAME=URL, space-separated"), /\s+/, "=")
    const headers = pairs(
      yield* askOptional(
        io,
        values.header?.join(";"),
        "Headers every request needs, each 'Name: value', separated by ;",
      ),
      /;/,
      ":",
    )
    const body = yield* askOptional(io, values["test-body"], "A JSON body, for a read-only POST test (GraphQL)")
    let testBody: unknown
    if (body) {
      try {
        testBody = JSON.parse(body)
      } catch {
        return yield* usage(`--test-body is not JSON: ${body.slice(0, 60)}`)
      }
    }
    const wait = yield* askOptional(
      io,
      values["wait-header"],
      `A wait header beyond Retry-After, as NAME:UNIT (${WAIT_UNITS.join(", ")})`,
    )
    const [waitName = "", waitUnit = ""] = wait.split(":").map((part) => part.trim())
    if (wait && !(WAIT_UNITS as ReadonlyArray<string>).includes(waitUnit)) {
      return yield* usage(`--wait-header is NAME:UNIT, with a unit of ${WAIT_UNITS.join(", ")}`)
    }
    const keyPattern = yield* askOptional(io, values["key-pattern"], "The key's format, as a regular expression")

    const input: ScaffoldInput = {
      id,
      name,
      baseUrl,
      auth,
      testPath,
      ...(values["param-name"] ? { paramName: values["param-name"] } : {}),
      ...(values["docs-url"] ? { docsUrl: values["docs-url"] } : {}),
      ...(regions.length > 0 ? { regions } : {}),
      ...(headers.length > 0 ? { headers } : {}),
      ...(testBody !== undefined ? { testBody } : {}),
      ...(wait ? { waitHeader: { name: waitName, unit: waitUnit as (typeof WAIT_UNITS)[number] } } : {}),
      ...(keyPattern ? { keyPattern } : {}),
    }
    const text = scaffoldDefinition(input)
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
