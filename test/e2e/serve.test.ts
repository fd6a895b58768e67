/**
 * keyway serve as a real process: it prints its URL, serves `npm run serve -- --sandbox`'s try-it
 * page, and on SIGTERM lets an in-flight save & test finish and write before it exits 0.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { BIN, keyway } from "../support/cli.ts"

const started: ChildProcess[] = []
afterEach(() => {
  for (const child of started.splice(0)) child.kill("SIGKILL")
})

/** Starts `keyway serve --sandbox --port 0 --json`; answers its URL and its stderr so far. */
const startServe = (home: string) =>
  new Promise<{ child: ChildProcess; url: string; stderr: () => string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--sandbox", "--port", "0", "--json"], {
      env: { ...process.env, KEYWAY_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    })
    started.push(child)
    let stdout = ""
    let stderr = ""
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      // --json prints one JSON object, over several lines.
      if (stdout.trimEnd().endsWith("}")) resolve({ child, url: JSON.parse(stdout).url, stderr: () => stderr })
    })
    child.once("exit", (code) => reject(new Error(`serve exited ${code} before listening: ${stderr}`)))
  })

describe("keyway serve, as a process", () => {
  it("serves the try-it page and a form for each connector, with --sandbox", async () => {
    const home = mkdtempSync(join(tmpdir(), "keyway-serve-e2e-"))
    const { url } = await startServe(home)
    const index = await (await fetch(`${url}/`)).text()
    for (const id of ["activtrak", "activityinfo", "peopletray", "trackvia"]) {
      expect(index).toContain(`/try/${id}`)
      const form = await fetch(`${url}/try/${id}`)
      expect(form.status).toBe(200)
      expect(await form.text()).toContain('<form method="post"')
    }
  })

  it("on SIGTERM, an in-flight save & test finishes and is saved, then the process exits 0", async () => {
    const home = mkdtempSync(join(tmpdir(), "keyway-serve-term-"))
    const { child, url } = await startServe(home)
    const key = JSON.parse(
      (await keyway(["workspaces", "create", "term", "--json"], { env: { KEYWAY_HOME: home } })).stdout,
    ).key
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    // A slow vendor: the check is in flight when the signal comes.
    const pending = fetch(`${url}/v1/connections`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-slow-1500" } }),
    })
    await new Promise((resolve) => setTimeout(resolve, 500))
    child.kill("SIGTERM")
    const answer = await pending
    expect(answer.status).toBe(201)
    const saved = ((await answer.json()) as { connection: { id: string } }).connection.id
    expect(await exited).toBe(0)
    // The record was written whole: the CLI reads it from the same store.
    const listed = await keyway(["connections", "--json", "--workspace", "term"], { env: { KEYWAY_HOME: home } })
    expect(listed.stdout).toContain(saved)
  }, 60_000)
})
