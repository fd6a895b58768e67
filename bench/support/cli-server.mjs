// Starting Keyway's own servers for the benchmarks, the way a user does: `node bin/keyway.js <command>
// --json ...` as a process of its own, its URL read from what it prints. Plain JavaScript, so the
// children that run without tsx (serve-child.mjs) share it with the benchmarks.
import { execFile, spawn } from "node:child_process"
import { promisify } from "node:util"
import { request } from "undici"

export const BIN = new URL("../../bin/keyway.js", import.meta.url).pathname

/** The environment for a Keyway under `home`: no store, master key or workspace inherited from the shell. */
export const benchEnv = (home, extra = {}) => {
  const env = { ...process.env, KEYWAY_HOME: home, ...extra }
  for (const name of ["KEYWAY_STORE", "KEYWAY_MASTER_KEY", "KEYWAY_PREVIOUS_MASTER_KEYS", "KEYWAY_WORKSPACE"]) {
    delete env[name]
  }
  return env
}

/** `node <script> <args...>`, a server that prints its URL as JSON once listening: the process and its URL. */
export const startServerProcess = (script, args, env = process.env) => {
  const child = spawn(process.execPath, [script, ...args], { env, stdio: ["ignore", "pipe", "inherit"] })
  return new Promise((resolve, reject) => {
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk.toString()
      const match = /"url":\s*"([^"]+)"/.exec(output)
      if (match) resolve({ child, url: match[1] })
    })
    child.once("exit", (code) => reject(new Error(`${script} ${args[0] ?? ""} exited with ${code}`)))
  })
}

/** Stops a server from `startServerProcess`, and waits until it has exited. */
export const stopServerProcess = async (child) => {
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGTERM")
  await exited
}

/** `keyway <args...>` (a command that serves and prints its URL with --json): the process and its URL. */
export const startCliServer = (args, env = process.env) => startServerProcess(BIN, args, env)

/** `keyway workspaces create <name> --json`: the workspace's API key. */
export const createWorkspaceKey = async (env, name) => {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, "workspaces", "create", name, "--json"], { env })
  return JSON.parse(stdout).key
}

/** `keyway serve --sandbox` on the sandbox in `env`, with the per-workspace check limit out of the way. */
export const startServe = (env) =>
  startCliServer(["serve", "--sandbox", "--port", "0", "--json", "--quiet", "--checks-per-minute", "1000000000"], env)

/** One API save & test of the sandbox's valid ActivTrak key; throws unless it answers 201 with a saved connection. */
export const postConnection = async (url, key, dispatcher) => {
  const response = await request(`${url}/v1/connections`, {
    method: "POST",
    dispatcher,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-valid" } }),
  })
  const answer = await response.body.json()
  if (response.statusCode !== 201 || !answer.connection?.id) {
    throw new Error(`POST /v1/connections answered ${response.statusCode}: ${JSON.stringify(answer).slice(0, 300)}`)
  }
  return answer
}
