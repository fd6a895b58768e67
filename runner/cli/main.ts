/**
 * The `keyway` command. Every command, with its usage, is in the one table below; each command's
 * module loads only when it runs, which keeps start-up fast. `main` runs one Effect and is the one
 * exit point: a command's typed failure becomes its documented exit code, anything else is a bug.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { fileProblem } from "../../core/file-errors.ts"
import { EXIT } from "./exit-codes.ts"
import { type CliFailure, reportFailure } from "./failures.ts"
import { type Io, type OptionSpecs, type Parsed, parseFlags, processIo, unknownWord } from "./io.ts"

/** A command's module: its options, and its run from the parsed arguments to an exit code. */
export interface CommandModule<O extends OptionSpecs = OptionSpecs> {
  readonly options: O
  run(parsed: Parsed<O>, io: Io): Effect.Effect<number, CliFailure>
}

/** A command's run, failing only with a `CliFailure`. */
export type CommandRun<O extends OptionSpecs> = (parsed: Parsed<O>, io: Io) => Effect.Effect<number, CliFailure>

interface Command {
  /** Its positional arguments, as the usage line shows them. */
  readonly args: string
  readonly summary: string
  /** Commands a user can paste, shown by `keyway help <command>`. */
  readonly examples: ReadonlyArray<string>
  readonly load: () => Promise<CommandModule>
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  demo: {
    args: "",
    summary: "Save & test every connector against the sandbox, across failure scenarios (`npm start`)",
    examples: ["npx keyway demo"],
    load: () => import("./commands/demo.ts"),
  },
  validate: {
    args: "[file.yaml ...]",
    summary: "Check connector definitions; print every problem as file:line:col",
    examples: ["npx keyway validate", "npx keyway validate --strict connectors/acme.yaml"],
    load: () => import("./commands/validate.ts"),
  },
  connectors: {
    args: "[show <id>]",
    summary: "List connectors, or show one's credentials, auth, test request and error table",
    examples: ["npx keyway connectors", "npx keyway connectors show trackvia"],
    load: () => import("./commands/connectors.ts"),
  },
  connect: {
    args: "<connector>",
    summary: "Save & test: check credentials with the vendor, then store them encrypted",
    examples: [
      "npx keyway connect activtrak --sandbox",
      `echo '{"apiKey":"sandbox-valid"}' | npx keyway connect peopletray --sandbox --label "Acme Corp"`,
    ],
    load: () => import("./commands/connect.ts"),
  },
  connections: {
    args: "[test|update|remove <id> | test --all]",
    summary: "List saved connections, re-test them, replace one's credentials, or remove one",
    examples: [
      "npx keyway connections",
      "npx keyway connections test --all",
      `echo '{"apiKey":"sandbox-valid"}' | npx keyway connections update <id> --sandbox`,
    ],
    load: () => import("./commands/connections.ts"),
  },
  sync: {
    args: "<connection> <stream>",
    summary: "Pull a report as NDJSON, page by page, resumable",
    examples: [
      "npx keyway sync <id> workingHoursUsers --from 2026-01-01 --to 2026-03-31 --out hours.ndjson",
      "npx keyway sync <id> viewRecords --param viewId=341",
      "npx keyway sync <id> workingHoursUsers --out hours.ndjson --resume",
    ],
    load: () => import("./commands/sync.ts"),
  },
  streams: {
    args: "<connector>",
    summary: "List the report streams a sync can pull, with their parameters",
    examples: ["npx keyway streams activtrak"],
    load: () => import("./commands/streams.ts"),
  },
  "rotate-key": {
    args: "",
    summary: "Make a new master key and re-encrypt every saved connection",
    examples: ["npx keyway rotate-key"],
    load: () => import("./commands/rotate-key.ts"),
  },
  sandbox: {
    args: "",
    summary: "Serve fakes of every vendor on loopback, with a scenario per test key",
    examples: ["npx keyway sandbox", "npx keyway sandbox --port 4010 --rate 5 --burst 10 --mode retry-after"],
    load: () => import("./commands/sandbox.ts"),
  },
  serve: {
    args: "",
    summary: "Serve the HTTP API, the connect form and /connect.js (npm run serve)",
    examples: ["npx keyway serve --sandbox", "npx keyway serve --port 8080"],
    load: () => import("./commands/serve.ts"),
  },
  workspaces: {
    args: "create <name>",
    summary: "Create a workspace's API key for the HTTP API, printed once",
    examples: ["npx keyway workspaces create acme"],
    load: () => import("./commands/workspaces.ts"),
  },
  worker: {
    args: "",
    summary: "Run verify and sync jobs from the fleet's queues on Redis (KEYWAY_REDIS)",
    examples: ["npx keyway worker", "npx keyway worker --concurrency 8 --metrics-port 9464"],
    load: () => import("./commands/worker.ts"),
  },
  schedule: {
    args: "verify | sync <connection> <stream> | list | remove <schedule>",
    summary: "Schedule re-verification and syncs for the workers (BullMQ job schedulers)",
    examples: [
      "npx keyway schedule verify --every 1d",
      'npx keyway schedule sync <connection> activityLog --cron "0 * * * *"',
      "npx keyway schedule list",
    ],
    load: () => import("./commands/schedule.ts"),
  },
  webhooks: {
    args: "add <url> | list | rotate <endpoint> [--overlap 24h]",
    summary: "Endpoints for the workspace's events, signed as Standard Webhooks; rotate gives one a new secret",
    examples: [
      "npx keyway webhooks add https://app.example.com/keyway-events",
      "npx keyway webhooks list",
      "npx keyway webhooks rotate whe_0123456789abcdef --overlap 24h",
    ],
    load: () => import("./commands/webhooks.ts"),
  },
  new: {
    args: "<id>",
    summary: "Scaffold connectors/<id>.yaml: a complete definition that validates as written",
    examples: [
      "npx keyway new acme --name Acme --base-url https://api.acme.example --auth bearer --test-path /v1/me",
      "npx keyway new acme --name Acme --base-url 'https://{subdomain}.acme.example' --auth basic --test-path /api/me",
      `npx keyway new acme --name Acme --base-url https://api.acme.example --test-path /graphql --test-body '{"query":"{ viewer { id } }"}'`,
    ],
    load: () => import("./commands/new.ts"),
  },
  docs: {
    args: "",
    summary: "Generate each connector's customer page (docs/connectors), or check they are current",
    examples: ["npx keyway docs", "npx keyway docs --check"],
    load: () => import("./commands/docs.ts"),
  },
  schema: {
    args: "",
    summary: "Print, write or check connectors/schema.json",
    examples: ["npx keyway schema --check"],
    load: () => import("./commands/schema.ts"),
  },
}

/** Options every command takes. */
const GLOBAL_OPTIONS: OptionSpecs = {
  json: { type: "boolean", description: "print machine-readable JSON" },
  help: { type: "boolean", description: "show this help (also: keyway help <command>)" },
}

const usageLine = (name: string, command: Command): string =>
  ["keyway", name, command.args].filter((part) => part !== "").join(" ")

const USAGE_WIDTH = Math.max(...Object.entries(COMMANDS).map(([name, c]) => usageLine(name, c).length))

const help = (): string =>
  [
    "Keyway: declarative connectors for third-party APIs.",
    "",
    "Usage:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${usageLine(name, c).padEnd(USAGE_WIDTH)}  ${c.summary}`),
    "",
    "Every command takes --json for machine-readable output. For a command's options and examples:",
    "  keyway help <command>, or keyway <command> --help",
    "",
  ].join("\n")

const optionLines = (options: OptionSpecs): string[] => {
  const rows = Object.entries({ ...options, ...GLOBAL_OPTIONS }).map(([name, spec]) => [
    `--${name}${spec.value ? ` ${spec.value}` : ""}${spec.multiple ? " ..." : ""}`,
    spec.description,
  ])
  const width = Math.max(...rows.map(([flag]) => flag?.length ?? 0))
  return rows.map(([flag, description]) => `  ${(flag ?? "").padEnd(width)}  ${description}`)
}

const commandHelp = (name: string, command: Command, module: CommandModule): string =>
  [
    `Usage: ${usageLine(name, command)} [options]`,
    "",
    `${command.summary}.`,
    "",
    "Options:",
    ...optionLines(module.options),
    "",
    "Examples:",
    ...command.examples.map((example) => `  ${example}`),
    "",
  ].join("\n")

const HELP_FLAGS: ReadonlySet<string> = new Set(["--help", "-h"])

const unknownCommand = (name: string) => unknownWord("command", name, Object.keys(COMMANDS), "npx keyway --help")

const report = (failure: CliFailure, io: Io): number => {
  const { code, kind, lines } = reportFailure(failure)
  if (io.json) io.out(`${JSON.stringify({ error: kind, problems: lines }, null, 2)}\n`)
  for (const line of lines) io.err(`keyway: ${line}\n`)
  return code
}

/**
 * Not a user error: say so plainly. The defect's own text is not printed, since an unexpected error
 * could in principle carry request details; its type and stack frames are enough.
 */
const bug = (cause: Cause.Cause<never>, io: Io): number => {
  const defect = Cause.squash(cause)
  const where =
    defect instanceof Error ? `${defect.name}: ${defect.stack?.split("\n").slice(1, 4).join(" | ")}` : typeof defect
  io.err(`keyway: this is a bug in Keyway. Please report it with the command you ran and: ${where}\n`)
  return EXIT.bug
}

/** One command line, run: help, or a command with its arguments parsed against its options. */
const dispatch = (words: ReadonlyArray<string>, io: Io): Effect.Effect<number, CliFailure> => {
  const [name, ...rest] = words
  const say = (text: string, code: number) =>
    Effect.sync(() => {
      io.out(text)
      return code
    })
  if (name === undefined) return say(help(), EXIT.badInput)
  if (HELP_FLAGS.has(name)) return say(help(), EXIT.ok)
  if (name === "help") {
    const topic = rest[0]
    if (topic === undefined) return say(help(), EXIT.ok)
    const command = COMMANDS[topic]
    if (!command) return unknownCommand(topic)
    return Effect.flatMap(
      Effect.promise(() => command.load()),
      (module) => say(commandHelp(topic, command, module), EXIT.ok),
    )
  }
  const command = COMMANDS[name]
  if (!command) return unknownCommand(name)
  return Effect.flatMap(
    Effect.promise(() => command.load()),
    (module) =>
      rest.some((word) => HELP_FLAGS.has(word))
        ? say(commandHelp(name, command, module), EXIT.ok)
        : Effect.flatMap(parseFlags(rest, module.options, `npx keyway help ${name}`), (parsed) =>
            module.run(parsed, io),
          ),
  )
}

export const program = (argv: ReadonlyArray<string>, output: Omit<Io, "json">): Effect.Effect<number> => {
  const json = argv.includes("--json")
  const io: Io = { ...output, json }
  return dispatch(
    argv.filter((arg) => arg !== "--json"),
    io,
  ).pipe(
    Effect.catchAll((failure) => Effect.sync(() => report(failure, io))),
    Effect.catchAllCause((cause) => Effect.sync(() => bug(cause, io))),
  )
}

export const main = (argv: ReadonlyArray<string>, output: Omit<Io, "json">): Promise<number> =>
  Effect.runPromise(program(argv, output))

/**
 * Standard output that takes no more: a reader that went away (`| head`) ends the command quietly; a
 * full disk or a closed file is said in one line, exit 2, instead of a crash with a stack.
 */
const guardStdout = (): void => {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? EXIT.ok)
    process.stderr.write(`keyway: cannot write standard output: ${fileProblem(error)}\n`)
    process.exit(EXIT.badInput)
  })
}

/**
 * The command line of this process, run. `bin/keyway.js` calls it, whatever path it was started by
 * (`npx`, an `npm link`, a `.bin` link): this module never guesses whether it is the main one.
 */
export const runFromProcess = async (): Promise<void> => {
  guardStdout()
  process.exitCode = await main(process.argv.slice(2), processIo())
  // A command that has finished never hangs on what it leaves behind (a Redis client still trying to
  // reconnect to a server that is gone): a second after, the process ends anyway.
  setTimeout(() => process.exit(), 1000).unref()
}
