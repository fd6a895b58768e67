/**
 * Running `keyway`: in-process through the same `program` the binary runs (the default tier), or as
 * the real binary in a child process, as a user would (the e2e tier).
 */
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Writable } from "node:stream"
import * as Effect from "effect/Effect"
import { STDIN_LIMIT } from "../../runner/cli/io.ts"
import { program } from "../../runner/cli/main.ts"
import { type Sandbox, type SandboxOptions, startSandbox } from "../../runner/sandbox/server.ts"

export const BIN = new URL("../../bin/keyway.js", import.meta.url).pathname

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface CliOptions {
  readonly env?: Record<string, string>
  readonly stdin?: string
  /** Standard error is a terminal (in-process only): progress lines update in place. */
  readonly errIsTTY?: boolean
}

/** The CLI in this process: what the binary would print and exit with, without starting Node. */
export const cli = async (args: ReadonlyArray<string>, options: CliOptions = {}): Promise<CliRun> => {
  let stdout = ""
  let stderr = ""
  const code = await Effect.runPromise(
    program(args, {
      out: (text) => {
        stdout += text
      },
      err: (text) => {
        stderr += text
      },
      env: { ...process.env, ...options.env },
      stdin: {
        isTTY: false,
        read: async () => ((options.stdin ?? "").length > STDIN_LIMIT ? undefined : (options.stdin ?? "")),
      },
      stdout: new Writable({
        write: (chunk: Buffer, _encoding, done) => {
          stdout += chunk.toString()
          done()
        },
      }),
      errIsTTY: options.errIsTTY ?? false,
    }),
  )
  return { code, stdout, stderr }
}

/** The real binary in a child process. */
export const keyway = (args: ReadonlyArray<string>, options: CliOptions = {}): Promise<CliRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.once("error", reject)
    child.once("close", (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
    child.stdin.end(options.stdin ?? "")
  })

export interface ConnectedSandbox {
  readonly sandbox: Sandbox
  /** KEYWAY_HOME (a fresh folder) and KEYWAY_SANDBOX_URL, for each run of the binary. */
  readonly env: Record<string, string>
  readonly home: string
  /** The ActivTrak connection made through the real binary. */
  readonly id: string
}

/** A sandbox and a fresh home holding one ActivTrak connection, whose key names the sandbox scenario. */
export const connectedSandbox = async (
  prefix: string,
  options: SandboxOptions,
  apiKey: string,
): Promise<ConnectedSandbox> => {
  const sandbox = await startSandbox(options)
  const home = mkdtempSync(join(tmpdir(), prefix))
  const env = { KEYWAY_HOME: home, KEYWAY_SANDBOX_URL: sandbox.url }
  const connected = await keyway(["connect", "activtrak", "--sandbox", "--json"], {
    env,
    stdin: JSON.stringify({ apiKey }),
  })
  return { sandbox, env, home, id: JSON.parse(connected.stdout).connection.id }
}
