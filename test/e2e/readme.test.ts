/**
 * The README as a newcomer reads it. A fresh clone of this repository, with the installed
 * dependencies linked in, runs `npm install && npm start`, then every command the README shows and
 * `npm start`'s closing line suggests, exactly as written, each checked for what the README says it
 * does. A placeholder such as `<id>` becomes a real id; a prompt is answered on a real terminal
 * (`script`); a server is stopped with Ctrl-C once it is up. A command the README shows that this
 * file neither runs nor names the test that runs it fails the first test.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../../runner/sandbox/server.ts"

const ROOT = new URL("../..", import.meta.url).pathname

/** Every command the README shows: each line of a `sh` block, and each code span that runs Keyway or npm. */
const readmeCommands = (text: string): ReadonlyArray<string> => {
  const found = new Set<string>()
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of (block[1] ?? "").split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim()
      if (command) found.add(command)
    }
  }
  for (const span of text.replace(/```[\s\S]*?```/g, "").matchAll(/`([^`\n]+)`/g)) {
    const command = (span[1] ?? "").replaceAll("\\|", "|").trim()
    if (/^(npx keyway|keyway|npm)( |$)/.test(command) || command.includes("npx keyway ")) found.add(command)
  }
  return [...found]
}

/** Ctrl-D: the end of input, as a terminal sends it. */
const END = "\x04"

interface Ctx {
  /** Connection ids saved along the way, by what they are. */
  readonly ids: Record<string, string>
  /** The credential line the sandbox prints for a connector served by a derived fake. */
  derivedKey?: string
}

interface Run {
  readonly command: string
  readonly stdin?: string
  /** Prompts on a terminal, each answered when it shows. */
  readonly answers?: ReadonlyArray<readonly [RegExp, string]>
  /** A server: stopped with Ctrl-C once this shows. */
  readonly serve?: RegExp
  readonly env?: Record<string, string>
}

interface Step {
  /** What runs: the README's command with its placeholders filled, or each form a syntax summary stands for. */
  readonly runs?: (ctx: Ctx) => ReadonlyArray<Run>
  readonly code?: number
  /** What the output (stdout and stderr) must show. */
  readonly shows: RegExp
  /** After it ran: what to keep for later steps. */
  readonly keep?: (output: string, ctx: Ctx) => void
  readonly before?: (ctx: Ctx) => Promise<void>
  readonly timeoutMs?: number
}

/**
 * Run elsewhere, as written: by another step here, by a file that holds the command (.ci/run, a
 * package.json script), or by the test of the exit-code table, which runs each example in it.
 */
interface Covered {
  readonly coveredBy: string
}

const EXIT_CODE_TABLE = "test/e2e/exit-codes.test.ts"
/** Runs the README's fleet quick start line for line, with the servers and workers in the background. */
const FLEET_TEST = "test/e2e/fleet.test.ts"

const savedAs = (key: string) => (output: string, ctx: Ctx) => {
  const id = /Saved as (con_[0-9a-f]+)/.exec(output)?.[1]
  if (!id) throw new Error(`no connection id in: ${output}`)
  ctx.ids[key] = id
}

let clone = ""
let slowSandbox: Sandbox | undefined

/**
 * Every command, in the order it runs. The README's order, except where a command needs what a later
 * one makes (a connector scaffolded before it is validated).
 */
const STEPS: ReadonlyArray<readonly [string, Step | Covered]> = [
  [
    "npm install && npm start",
    {
      shows:
        /8 connections passed[\s\S]*Try it yourself: npx keyway sandbox, npx keyway connect activtrak --sandbox, npx keyway sync <id> <stream> --sandbox\./,
      timeoutMs: 300_000,
    },
  ],
  ["npm install", { shows: /up to date|added/ }],
  ["npm start", { coveredBy: "npm install && npm start" }],
  ["npm run build", { shows: /build/ }],
  ["npm test", { coveredBy: ".ci/run" }],
  ["npm run test:unit", { coveredBy: "package.json" }],
  ["npm run test:e2e", { coveredBy: "package.json" }],
  [
    "keyway",
    { runs: () => [{ command: "npx keyway" }], code: 2, shows: /^Keyway: declarative connectors[\s\S]*Usage:/ },
  ],
  [
    "npx keyway connect activtrak --sandbox",
    {
      runs: () => [
        {
          command: "npx keyway connect activtrak --sandbox",
          // The optional SCIM token: Ctrl-D, the end of input, leaves it out.
          answers: [
            [/API key:/, "sandbox-valid"],
            [/SCIM token/, END],
          ],
        },
      ],
      shows: /ActivTrak: connected[\s\S]*Saved as con_/,
      keep: savedAs("prompted"),
    },
  ],
  [
    'KEYWAY_API_KEY=sandbox-valid npx keyway connect activtrak --sandbox --setting region=eu --label "EU account"',
    { shows: /ActivTrak: connected[\s\S]*Saved as con_[0-9a-f]+ \("EU account"\)/, keep: savedAs("activtrak") },
  ],
  [
    `echo '{"apiKey":"sandbox-valid","authToken":"sandbox-valid"}' | npx keyway connect trackvia --sandbox --setting subdomain=acme`,
    { shows: /TrackVia: connected[\s\S]*Saved as con_/, keep: savedAs("trackvia") },
  ],
  ["npx keyway connections", { shows: /ID\s+CONNECTOR[\s\S]*activtrak\s+EU account/ }],
  ["keyway connections", { coveredBy: "npx keyway connections" }],
  ["npx keyway connections test --all --sandbox", { shows: /\[3\/3\] testing con_[\s\S]*TrackVia con_/ }],
  [
    `echo '{"apiKey":"sandbox-valid"}' | npx keyway connections update <id> --sandbox`,
    {
      runs: ({ ids }) => [
        {
          command: `echo '{"apiKey":"sandbox-valid"}' | npx keyway connections update ${ids.activtrak} --sandbox`,
        },
      ],
      shows: /The new credentials passed and replace the stored ones/,
    },
  ],
  [
    "keyway connections update <id>",
    { coveredBy: `echo '{"apiKey":"sandbox-valid"}' | npx keyway connections update <id> --sandbox` },
  ],
  [
    "npx keyway connections remove <id>",
    { runs: ({ ids }) => [{ command: `npx keyway connections remove ${ids.prompted}` }], shows: /^Removed con_/ },
  ],
  ["npx keyway rotate-key", { shows: /^Master key is now [0-9a-f]+; re-sealed \d+ records/ }],
  ["keyway rotate-key", { coveredBy: "npx keyway rotate-key" }],
  ["npx keyway help connect", { shows: /^Usage: keyway connect <connector> \[options\][\s\S]*Examples:/ }],
  ["npx keyway connect", { code: 2, shows: /which connector\?/ }],
  ["npx keyway streams activtrak", { shows: /STREAM[\s\S]*workingHoursUsers[\s\S]*activityLog/ }],
  [
    "npx keyway streams <connector>",
    { runs: () => [{ command: "npx keyway streams trackvia" }], shows: /viewRecords/ },
  ],
  [
    "npx keyway sync <connection> workingHoursUsers --from 2026-01-01 --to 2026-03-31 --out hours.ndjson --sandbox",
    {
      runs: ({ ids }) => [
        {
          command: `npx keyway sync ${ids.activtrak} workingHoursUsers --from 2026-01-01 --to 2026-03-31 --out hours.ndjson --sandbox`,
        },
      ],
      shows: /^Synced [\d,]+ records of workingHoursUsers in \d+ pages \(3 date slices\)[\s\S]*Output: hours\.ndjson\./,
      keep: () => expect(existsSync(join(clone, "hours.ndjson"))).toBe(true),
    },
  ],
  [
    "npx keyway sync <connection> viewRecords --param viewId=341 --sandbox",
    {
      runs: ({ ids }) => [{ command: `npx keyway sync ${ids.trackvia} viewRecords --param viewId=341 --sandbox` }],
      shows: /\{"stream":"viewRecords","record":\{"id":1,/,
    },
  ],
  [
    "npx keyway sync <connection> workingHoursUsers --out hours.ndjson --resume --sandbox",
    {
      // An interruption first: a long sync against a slow sandbox, killed once it has written a page.
      before: async ({ ids }) => {
        slowSandbox = await startSandbox({
          records: 30_000,
          rateLimit: { perSecond: 4, burst: 1, mode: "retry-after" },
        })
        await killedMidway(
          `npx keyway sync ${ids.activtrak} workingHoursUsers --from 2025-01-01 --to 2025-12-31 --out hours.ndjson --sandbox`,
          { KEYWAY_SANDBOX_URL: slowSandbox.url },
        )
      },
      runs: ({ ids }) => [
        { command: `npx keyway sync ${ids.activtrak} workingHoursUsers --out hours.ndjson --resume --sandbox` },
      ],
      shows: /^Synced [\d,]+ records of workingHoursUsers[\s\S]*resumed from the last checkpoint/,
      timeoutMs: 120_000,
    },
  ],
  [
    "npx keyway sync <id> <stream> --sandbox",
    {
      runs: ({ ids }) => [{ command: `npx keyway sync ${ids.activtrak} activityLog --sandbox` }],
      shows: /\{"stream":"activityLog","record":\{"logId":/,
    },
  ],
  [
    "npx keyway new acme --name Acme --base-url https://api.acme.example --auth bearer --test-path /v1/me",
    {
      shows:
        /^Wrote .*connectors\/acme\.yaml\.\nNext: [\s\S]*npx keyway validate connectors\/acme\.yaml\n {2}npm run docs\n {2}npm test/,
    },
  ],
  ["npx keyway validate --strict connectors/acme.yaml", { shows: /^1 of 1 definitions valid; 0 errors, 0 warnings/ }],
  [
    "npx keyway new <id>",
    {
      runs: () => [
        {
          command: "npx keyway new widget",
          answers: [
            [/Vendor name:/, "Widget"],
            [/Base URL/, "https://api.widget.example"],
            [/Auth placement/, ""],
            [/Test request path/, "/v1/me"],
            [/Regions/, ""],
            [/Headers every request needs/, ""],
            [/A JSON body/, ""],
            [/A wait header/, ""],
            [/The key's format/, ""],
          ],
        },
      ],
      shows: /Wrote .*connectors\/widget\.yaml/,
    },
  ],
  ["keyway new", { coveredBy: "npx keyway new <id>" }],
  ["npm run validate", { shows: /6 of 6 definitions valid; 0 errors/ }],
  [
    "keyway validate",
    { runs: () => [{ command: "npx keyway validate" }], shows: /6 of 6 definitions valid; 0 errors/ },
  ],
  [
    "keyway validate [files...]",
    {
      runs: () => [{ command: "npx keyway validate connectors/activtrak.yaml connectors/trackvia.yaml" }],
      shows: /^2 of 2 definitions valid/,
    },
  ],
  [
    "npx keyway connectors [show <id>]",
    {
      runs: () => [{ command: "npx keyway connectors" }, { command: "npx keyway connectors show activtrak" }],
      shows: /ID\s+NAME[\s\S]*acme\s+Acme[\s\S]*ActivTrak \(activtrak\)/,
    },
  ],
  ["npm run docs", { shows: /Wrote 7 pages to .*docs\/connectors/ }],
  ["keyway docs [--check]", { runs: () => [{ command: "npx keyway docs --check" }], shows: /^$/ }],
  ["keyway docs --check", { runs: () => [{ command: "npx keyway docs --check" }], shows: /^$/ }],
  ["npm run schema", { shows: /wrote .*connectors\/schema\.json/ }],
  ["keyway schema --write", { coveredBy: "package.json" }],
  [
    "npx keyway sandbox",
    {
      runs: () => [{ command: "npx keyway sandbox", serve: /Wait modes/ }],
      shows: /Keyway sandbox on http:\/\/127\.0\.0\.1:\d+[\s\S]*acme\s+apiToken=\S+/,
      keep: (output, ctx) => {
        const key = /acme\s+apiToken=(\S+)/.exec(output)?.[1]
        if (key) ctx.derivedKey = key
      },
    },
  ],
  [
    "npx keyway connect acme --sandbox",
    {
      runs: (ctx) => [
        { command: "npx keyway connect acme --sandbox", answers: [[/API token:/i, ctx.derivedKey ?? "missing"]] },
      ],
      shows: /Acme: connected[\s\S]*Saved as con_/,
    },
  ],
  [
    "npm run sandbox",
    {
      runs: () => [{ command: "npm run sandbox", serve: /Wait modes/ }],
      shows: /Keyway sandbox on http:\/\/127\.0\.0\.1/,
    },
  ],
  ["keyway sandbox", { coveredBy: "npx keyway sandbox" }],
  [
    "npm run serve -- --sandbox",
    {
      runs: () => [{ command: "npm run serve -- --sandbox", serve: /For the host page/ }],
      shows:
        /Keyway serving on http:\/\/127\.0\.0\.1:4000 \(every check goes to the sandbox's fakes\)[\s\S]*\/connect\.js/,
    },
  ],
  ["keyway serve", { coveredBy: "npm run serve -- --sandbox" }],
  ["keyway worker", { coveredBy: FLEET_TEST }],
  [
    "npx keyway webhooks add https://app.example.com/keyway-events",
    {
      shows:
        /^Endpoint whe_[0-9a-f]{16} for https:\/\/app\.example\.com\/keyway-events\. Its signing secret, shown only this once:\n\n {2}whsec_\S+\n/,
      keep: (output, ctx) => {
        ctx.ids.endpoint = /^Endpoint (whe_[0-9a-f]{16})/.exec(output)?.[1] ?? ""
      },
    },
  ],
  [
    "npx keyway webhooks rotate <endpoint>",
    {
      runs: ({ ids }) => [{ command: `npx keyway webhooks rotate ${ids.endpoint}` }],
      shows:
        /^Endpoint whe_[0-9a-f]{16} has a new signing secret, shown only this once:\n\n {2}whsec_\S+\n\nUntil \S+, each delivery is also signed with the old secret/,
    },
  ],
  ["sudo apt-get install -y redis-server", { coveredBy: FLEET_TEST }],
  ["redis-server --port 6390 --appendonly yes", { coveredBy: FLEET_TEST }],
  ["export KEYWAY_REDIS=redis://127.0.0.1:6390 KEYWAY_SANDBOX_URL=http://127.0.0.1:4010", { coveredBy: FLEET_TEST }],
  ["npx keyway sandbox --port 4010", { coveredBy: FLEET_TEST }],
  ["npx keyway worker --sandbox", { coveredBy: FLEET_TEST }],
  [`echo '{"apiKey":"sandbox-records-300"}' | npx keyway connect activtrak --sandbox`, { coveredBy: FLEET_TEST }],
  [
    "npx keyway schedule sync <connection> activityLog --now --from 2026-03-01 --to 2026-03-01",
    { coveredBy: FLEET_TEST },
  ],
  ["npx keyway schedule verify --every 1d", { coveredBy: FLEET_TEST }],
  ["ls ~/.keyway/outputs/<connection>/activityLog/", { coveredBy: FLEET_TEST }],
  // --checks-per-minute and KEYWAY_SANDBOX_URL: test/e2e/serve.test.ts.
  ["keyway serve [--port N] [--sandbox] [--checks-per-minute N]", { coveredBy: "npm run serve -- --sandbox" }],
  [
    "npx keyway workspaces create acme",
    { shows: /Workspace acme: its API key, shown only this once[\s\S]*\n {2}kw_[A-Za-z0-9_-]{32}\n/ },
  ],
  [
    "npm run bench [-- <name>]",
    {
      runs: () => [
        {
          command: "npm run bench -- cli-startup",
          // The smoke size: the figures are not read here, only that the command runs.
          env: {
            RUNS: "1",
            ROUNDS: "1",
            N: "10",
            BENCH_RESULTS_DIR: mkdtempSync(join(tmpdir(), "keyway-readme-bench-")),
          },
        },
      ],
      shows: /millisecondsAboveBareNode/,
      timeoutMs: 120_000,
    },
  ],
  ["npm run typecheck", { coveredBy: ".ci/run" }],
  ["npm run lint", { coveredBy: ".ci/run" }],
  ['echo \'{"apiKey":"sandbox-valid"}\' | npx keyway connect activtrak --sandbox', { coveredBy: EXIT_CODE_TABLE }],
  ["npx keyway connect nosuch", { coveredBy: EXIT_CODE_TABLE }],
  ['echo \'{"apiKey":"sandbox-revoked"}\' | npx keyway connect activtrak --sandbox', { coveredBy: EXIT_CODE_TABLE }],
  ['echo \'{"apiKey":"sandbox-429-always"}\' | npx keyway connect activtrak --sandbox', { coveredBy: EXIT_CODE_TABLE }],
  ['echo \'{"apiKey":"sandbox-html"}\' | npx keyway connect activtrak --sandbox', { coveredBy: EXIT_CODE_TABLE }],
  [
    'echo \'{"apiKey":"anything"}\' | KEYWAY_CONNECTORS=test/fixtures/untested npx keyway connect notes',
    { coveredBy: EXIT_CODE_TABLE },
  ],
]

let home = ""
/** What every command runs with: this clone's own home, npm offline, nothing of the test runner's Keyway settings. */
const envFor = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  // A newcomer's shell: none of the test runner's Keyway settings, nor the npm settings npm gave it.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(KEYWAY_|npm_)/i.test(name)))
  return {
    ...inherited,
    KEYWAY_HOME: home,
    npm_config_offline: "true",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    ...extra,
  }
}

/** Runs one command in the clone: in a shell, on a terminal when it prompts, or as a server until Ctrl-C. */
const runIn = (run: Run, timeoutMs: number): Promise<{ code: number; output: string }> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = run.answers
      ? spawn("script", ["-qec", run.command, "/dev/null"], { cwd: clone, env: envFor(run.env), detached: true })
      : spawn("bash", ["-c", run.command], { cwd: clone, env: envFor(run.env), detached: true })
    let output = ""
    let answered = 0
    let lastAnswerAt = 0
    let stopping = false
    const timer = setTimeout(() => {
      process.kill(-(child.pid as number), "SIGKILL")
      reject(new Error(`timed out after ${timeoutMs} ms: ${run.command}\n${output}`))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const next = run.answers?.[answered]
      if (next?.[0].test(output.slice(lastAnswerAt))) {
        answered++
        lastAnswerAt = output.length
        child.stdin?.write(next?.[1] === END ? END : `${next?.[1]}\r`)
      }
      if (run.serve && !stopping && run.serve.test(output)) {
        stopping = true
        process.kill(-(child.pid as number), "SIGINT")
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    if (!run.answers) child.stdin?.end(run.stdin ?? "")
    child.once("error", reject)
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      // A server stopped with Ctrl-C has done its job, whatever npm makes of the signal.
      resolve({ code: run.serve && stopping ? 0 : (code ?? (signal ? 128 : -1)), output })
    })
  })

/** Starts a command and kills it with SIGKILL once it has written part of its output file. */
const killedMidway = async (command: string, env: Record<string, string>) => {
  const child = spawn("bash", ["-c", `exec ${command}`], { cwd: clone, env: envFor(env), detached: true })
  child.stdin?.end()
  const partial = () =>
    execFileSync("bash", ["-c", "ls hours.ndjson.*.partial 2>/dev/null | head -1"], { cwd: clone }).toString().trim()
  for (let waited = 0; waited < 60_000; waited += 50) {
    const file = partial()
    if (file && readFileSync(join(clone, file)).length > 0) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  process.kill(-(child.pid as number), "SIGKILL")
  await new Promise((resolve) => child.once("close", resolve))
  expect(partial()).not.toBe("")
}

const readme = () => readFileSync(join(clone, "README.md"), "utf8")

describe("the README, run as written on a fresh clone", () => {
  beforeAll(() => {
    clone = join(mkdtempSync(join(tmpdir(), "keyway-readme-")), "keyway")
    home = mkdtempSync(join(tmpdir(), "keyway-readme-home-"))
    execFileSync("git", ["clone", "--quiet", ROOT, clone])
    // The installed dependencies, linked in: hard links where the file system allows, else one link.
    try {
      execFileSync("cp", ["-al", join(ROOT, "node_modules"), join(clone, "node_modules")])
    } catch {
      symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"))
    }
  }, 120_000)
  afterAll(async () => {
    await slowSandbox?.stop()
  })

  it("every command the README shows, and npm start's closing line suggests, is run here or by a named test", () => {
    const named = new Set(STEPS.map(([command]) => command))
    const closingLine = [
      "npx keyway sandbox",
      "npx keyway connect activtrak --sandbox",
      "npx keyway sync <id> <stream> --sandbox",
    ]
    expect([...readmeCommands(readme()), ...closingLine].filter((command) => !named.has(command))).toEqual([])
    for (const [command, step] of STEPS) {
      if (!("coveredBy" in step)) continue
      const by = step.coveredBy
      if (named.has(by)) continue
      if (by === EXIT_CODE_TABLE) {
        const table = readme().slice(readme().indexOf("### Exit codes"), readme().indexOf("## Adding a connector"))
        expect(table.replaceAll("\\|", "|"), `${command} is not in the exit-code table`).toContain(command)
        continue
      }
      // A file that runs it: .ci/run or a test holds the command; package.json, the script it names.
      const text = readFileSync(join(ROOT, by), "utf8")
      const script = /^npm run (\S+)$/.exec(command)?.[1]
      const bare = command.replace(/^keyway /, "")
      expect(
        text.includes(command) || (script !== undefined && text.includes(`"${script}":`)) || text.includes(bare),
        `${command} is not in ${by}`,
      ).toBe(true)
    }
  })

  const ctx: Ctx = { ids: {} }
  for (const [command, step] of STEPS) {
    if ("coveredBy" in step) continue
    it(
      `runs ${command}`,
      async () => {
        await step.before?.(ctx)
        const runs = step.runs?.(ctx) ?? [{ command }]
        let output = ""
        for (const run of runs) {
          const result = await runIn(run, step.timeoutMs ?? 60_000)
          expect(result.code, `${run.command}\n${result.output}`).toBe(step.code ?? 0)
          output += result.output
        }
        expect(output.replaceAll("\r", "")).toMatch(step.shows)
        step.keep?.(output, ctx)
      },
      (step.timeoutMs ?? 60_000) * 2 + 60_000,
    )
  }

  describe("keyway runs however it is started, after npm install", () => {
    const prefix = mkdtempSync(join(tmpdir(), "keyway-readme-prefix-"))
    it.each([
      ["npx keyway", "npx keyway"],
      ["npm exec keyway --", "npm exec keyway --"],
      ["node bin/keyway.js", "node bin/keyway.js"],
      [
        "an npm-linked keyway",
        `NPM_CONFIG_PREFIX=${prefix} npm link --ignore-scripts >/dev/null && ${prefix}/bin/keyway`,
      ],
    ])("%s --help and connectors", async (_name, keyway) => {
      const help = await runIn({ command: `${keyway} --help` }, 60_000)
      expect(help.output).toMatch(/^Keyway: declarative connectors[\s\S]*Usage:/)
      expect(help.code).toBe(0)
      const list = await runIn({ command: `${keyway} connectors` }, 60_000)
      expect(list.output).toMatch(/ID\s+NAME[\s\S]*activtrak\s+ActivTrak/)
      expect(list.code).toBe(0)
    })
  })
})
