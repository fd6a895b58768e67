/**
 * `keyway new <id> [--name N] [--base-url URL] [--auth header|bearer|query|basic] [--param-name P]
 *   [--test-path /path] [--docs-url URL] [--dir DIR]`: writes connectors/<id>.yaml. Asks on a
 * terminal for what the flags leave out; refuses to overwrite an existing file.
 */
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { read } from "read"
import { formatProblem, loadDefinitionText } from "../../../core/load.ts"
import { type AuthStyle, scaffoldDefinition } from "../../authoring/scaffold.ts"
import { CONNECTORS_DIR } from "../../catalog/catalog.ts"
import { EXIT } from "../exit-codes.ts"
import { type Io, parseFlags, printJson, UsageError } from "../io.ts"

const STYLES: ReadonlyArray<AuthStyle> = ["header", "bearer", "query", "basic"]

export const run = async (args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values, positionals } = parseFlags(args, {
    name: { type: "string" },
    "base-url": { type: "string" },
    auth: { type: "string" },
    "param-name": { type: "string" },
    "test-path": { type: "string" },
    "docs-url": { type: "string" },
    dir: { type: "string" },
  })
  const id = positionals[0]
  if (!id || !/^[a-z][a-z0-9-]*$/.test(id)) {
    throw new UsageError({
      detail: "usage: keyway new <id>, where id is lower-case letters, digits and -, e.g. acme-analytics",
    })
  }
  const file = join(values.dir ?? CONNECTORS_DIR, `${id}.yaml`)
  if (existsSync(file))
    throw new UsageError({ detail: `${file} already exists; keyway new never overwrites a definition` })

  const ask = async (flag: string | undefined, prompt: string, fallback?: string): Promise<string> => {
    if (flag) return flag
    if (!process.stdin.isTTY) {
      if (fallback !== undefined) return fallback
      throw new UsageError({ detail: `${prompt.toLowerCase()} is needed: pass it as a flag (see keyway --help)` })
    }
    return String(
      await read({
        prompt: `${prompt}${fallback ? ` (${fallback})` : ""}: `,
        output: process.stderr,
        ...(fallback ? { default: fallback } : {}),
      }),
    )
  }
  const name = await ask(values.name, "Vendor name")
  const baseUrl = await ask(values["base-url"], "Base URL (https://...)")
  const auth = (await ask(values.auth, `Auth placement (${STYLES.join(", ")})`, "bearer")) as AuthStyle
  if (!STYLES.includes(auth)) throw new UsageError({ detail: `--auth is one of ${STYLES.join(", ")}` })
  const testPath = await ask(values["test-path"], "Test request path (/...)")
  if (!/^https:\/\/[^\s/]+/.test(baseUrl)) throw new UsageError({ detail: "the base URL must start with https://" })
  if (!testPath.startsWith("/")) throw new UsageError({ detail: "the test path must start with /" })

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
    throw new UsageError({
      detail: `these answers do not make a valid definition:\n${check.problems.map(formatProblem).join("\n")}`,
    })
  }
  writeFileSync(file, text, { flag: "wx" })
  if (io.json) printJson(io, { wrote: file })
  else {
    io.out(
      `Wrote ${file}.\nNext: fill in the setup steps, error rules and rate limits from ${name}'s API docs, then\n  keyway validate ${file}\n  keyway docs\n  npm test    (the conformance suite covers the new file)\n`,
    )
  }
  return EXIT.ok
}
