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
import { type Io, processIo, usage } from "./io.ts"

/** A command: its arguments and output in, its exit code out, failing only with a `CliFailure`. */
export type CommandRun = (args: ReadonlyArray<string>, io: Io) => Effect.Effect<number, CliFailure>

interface Command {
  readonly usage: string
  readonly summary: string
  readonly load: () => Promise<{ readonly run: CommandRun }>
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  demo: {
    usage: "keyway demo",
    summary: "Save & test every connector against the sandbox, across failure scenarios (`npm start`)",
    load: () => import("./commands/demo.ts"),
  },
  validate: {
    usage: "keyway validate [--strict] [file.yaml ...]",
    summary: "Check connector definitions; print every problem as file:line:col",
    load: () => import("./commands/validate.ts"),
  },
  connectors: {
    usage: "keyway connectors [show <id>]",
    summary: "List connectors, or show one's credentials, auth, test request and error table",
    load: () => import("./commands/connectors.ts"),
  },
  connect: {
    usage: "keyway connect <connector> [--label L] [--setting k=v] [--expires D] [--sandbox]",
    summary: "Save & test: check credentials with the vendor, then store them encrypted",
    load: () => import("./commands/connect.ts"),
  },
  connections: {
    usage: "keyway connections [test <id> | test --all | remove <id>]",
    summary: "List saved connections, re-test them, or remove one",
    load: () => import("./commands/connections.ts"),
  },
  sync: {
    usage: "keyway sync <connection> <stream> [--from D --to D] [--param k=v] [--out F] [--resume]",
    summary: "Pull a report as NDJSON, page by page, resumable",
    load: () => import("./commands/sync.ts"),
  },
  streams: {
    usage: "keyway streams <connector>",
    summary: "List the report streams a sync can pull, with their parameters",
    load: () => import("./commands/streams.ts"),
  },
  "rotate-key": {
    usage: "keyway rotate-key",
    summary: "Make a new master key and re-encrypt every saved connection",
    load: () => import("./commands/rotate-key.ts"),
  },
  sandbox: {
    usage: "keyway sandbox [--port N] [--records N] [--rate N --burst N --mode M]",
    summary: "Serve fakes of every vendor on loopback, with a scenario per test key",
    load: () => import("./commands/sandbox.ts"),
  },
  new: {
    usage: "keyway new <id> [--name N --base-url U --auth header|bearer|query|basic --test-path P]",
    summary: "Scaffold connectors/<id>.yaml: a complete definition that validates as written",
    load: () => import("./commands/new.ts"),
  },
  docs: {
    usage: "keyway docs [--check] [--connectors DIR] [--out DIR]",
    summary: "Generate each connector's customer page (docs/connectors), or check they are current",
    load: () => import("./commands/docs.ts"),
  },
  schema: {
    usage: "keyway schema [--write | --check]",
    summary: "Print, write or check connectors/schema.json",
    load: () => import("./commands/schema.ts"),
  },
}

const help = (): string =>
  [
    "Keyway: declarative connectors for third-party APIs.",
    "",
    "Usage:",
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(72)} ${c.summary}`),
    "",
    "Options: --json for machine-readable output, --help for this text.",
    "",
  ].join("\n")

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

export const program = (argv: ReadonlyArray<string>, output: Omit<Io, "json">): Effect.Effect<number> => {
  const json = argv.includes("--json")
  const io: Io = { ...output, json }
  const [name, ...rest] = argv.filter((arg) => arg !== "--json")
  if (!name || name === "--help" || name === "help") {
    return Effect.sync(() => {
      io.out(help())
      return name ? EXIT.ok : EXIT.badInput
    })
  }
  const command = COMMANDS[name]
  const run: Effect.Effect<number, CliFailure> = command
    ? Effect.flatMap(
        Effect.promise(() => command.load()),
        (module) => module.run(rest, io),
      )
    : usage(`unknown command "${name}"; run keyway --help`)
  return run.pipe(
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
}
