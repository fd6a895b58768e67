/**
 * Every curl command on every committed page in docs/connectors/, taken from the page's own markdown
 * and run verbatim with the real curl binary against the sandbox. Only two things change: the
 * vendor's origin becomes the sandbox's URL for that connector, and each credential placeholder
 * (`<label>`) becomes a sandbox key. Anything else in angle brackets, or a date the vendor refuses,
 * fails here: the customer would have to guess. CI installs curl; without it these tests say why
 * they skip.
 */
import { execFile, spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loadConnectorDirNow } from "../runner/catalog/load-now.ts"
import { DOCS_DIR } from "../runner/cli/commands/docs.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"

const hasCurl = spawnSync("curl", ["--version"]).status === 0

/** The sandbox key every credential placeholder becomes: a valid key (fixtures/scenarios.ts). */
const SANDBOX_KEY = "sandbox-valid"

interface PageCommand {
  readonly connector: string
  readonly command: string
  /** The statuses the page says a working setup answers, from "A working setup answers 200". */
  readonly documented: ReadonlyArray<number>
}

/** Each ```sh block of each connector page that runs curl, with the answer the page documents for it. */
const pageCommands = (): PageCommand[] =>
  readdirSync(DOCS_DIR)
    .filter((name) => name.endsWith(".md") && name !== "README.md")
    .sort()
    .flatMap((name) => {
      const page = readFileSync(join(DOCS_DIR, name), "utf8")
      return [...page.matchAll(/```sh\n([\s\S]*?)\n```\n\n([^\n]*)/g)].flatMap((match) => {
        const command = (match[1] ?? "").trim()
        if (!command.startsWith("curl ")) return []
        const answers = /A working setup answers ([\d, ]+(?:or \d+)?)/.exec(match[2] ?? "")?.[1] ?? ""
        return [
          {
            connector: name.replace(/\.md$/, ""),
            command,
            documented: [...answers.matchAll(/\d{3}/g)].map((m) => Number(m[0])),
          },
        ]
      })
    })

const credentialLabels = new Map(
  loadConnectorDirNow().flatMap((r) =>
    r.definition ? [[r.definition.id, new Set(r.definition.credentials.map((c) => c.label))] as const] : [],
  ),
)

/** The command as the customer would run it, with only the origin and the credentials swapped. */
const forSandbox = (page: PageCommand, sandbox: Sandbox): string => {
  const labels = credentialLabels.get(page.connector) ?? new Set<string>()
  const placeholders = [...page.command.matchAll(/<([^<>]+)>/g)].map((m) => m[1] ?? "")
  const unknown = placeholders.filter((p) => !labels.has(p))
  if (unknown.length > 0) {
    throw new Error(`${page.connector}: the curl command has placeholders that are not credentials: ${unknown}`)
  }
  const origins = [...page.command.matchAll(/'(https:\/\/[^/'?]+)/g)].map((m) => m[1] ?? "")
  expect(origins, `${page.connector}: one vendor origin in ${page.command}`).toHaveLength(1)
  const sandboxUrl = sandbox.baseUrls[page.connector]
  if (!sandboxUrl) throw new Error(`the sandbox serves no ${page.connector}`)
  return page.command.replace(`'${origins[0]}`, `'${sandboxUrl}`).replace(/<([^<>]+)>/g, SANDBOX_KEY)
}

const run = async (command: string): Promise<{ status: number; body: string }> => {
  // The page's command as a shell runs it, with curl's own options after it to read the answer.
  const { stdout } = await promisify(execFile)("sh", [
    "-c",
    `${command} --silent --show-error --max-time 10 --write-out '\\n%{http_code}'`,
  ])
  const at = stdout.lastIndexOf("\n")
  return { body: stdout.slice(0, at), status: Number(stdout.slice(at + 1)) }
}

const commands = pageCommands()

describe("the committed pages' curl commands", () => {
  it("every connector page has one, with a documented answer", () => {
    const pages = readdirSync(DOCS_DIR).filter((name) => name.endsWith(".md") && name !== "README.md")
    expect(new Set(commands.map((c) => c.connector)).size).toBe(pages.length)
    for (const c of commands) expect(c.documented.length, c.command).toBeGreaterThan(0)
  })
})

describe.skipIf(!hasCurl)(
  `docs/connectors curl commands, run verbatim against the sandbox${hasCurl ? "" : " (skipped: no curl binary on PATH)"}`,
  () => {
    let sandbox: Sandbox
    beforeAll(async () => {
      sandbox = await startSandbox({ records: 5 })
    })
    afterAll(() => sandbox.stop())

    it.each(commands.map((c) => [c.connector, c] as const))("%s: the page's answer", async (_, page) => {
      const { status, body } = await run(forSandbox(page, sandbox))
      expect(page.documented, `${page.command}\nanswered ${status}: ${body.slice(0, 300)}`).toContain(status)
      // Every documented success of these pages is JSON ("with the body as JSON", "as an array").
      expect(() => JSON.parse(body)).not.toThrow()
    })

    it("the substitution changes nothing else: a sandbox key that is not valid gets a 401", async () => {
      const page = commands.find((c) => c.connector === "peopletray")
      if (!page) throw new Error("no PeopleTray curl command")
      const { status } = await run(forSandbox(page, sandbox).replace(SANDBOX_KEY, "sandbox-ip-blocked"))
      expect(status).toBe(401)
    })
  },
)
