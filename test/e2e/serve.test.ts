/**
 * keyway serve as a real process: it prints its URL, serves `npm run serve -- --sandbox`'s try-it
 * page, sends checks to a running sandbox when KEYWAY_SANDBOX_URL names one, takes its per-workspace
 * check limit from --checks-per-minute, and on SIGTERM lets an in-flight save & test finish and write
 * before it exits 0.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { BIN, keyway } from "../support/cli.ts"
import { LOAD_LOG_PRELOAD, packagesLoaded } from "../support/packages-loaded.ts"

const started: ChildProcess[] = []
afterEach(() => {
  for (const child of started.splice(0)) child.kill("SIGKILL")
})

/** Starts `keyway serve --port 0 --json [args]`; answers its URL and its stderr so far. */
const startServe = (home: string, args: ReadonlyArray<string> = ["--sandbox"], env: NodeJS.ProcessEnv = {}) =>
  new Promise<{ child: ChildProcess; url: string; stderr: () => string }>((resolve, reject) => {
    const { KEYWAY_SANDBOX_URL: _inherited, ...inherited } = process.env
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--json", ...args], {
      env: { ...inherited, KEYWAY_HOME: home, ...env },
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

  it("with KEYWAY_SANDBOX_URL, --sandbox sends checks to that running sandbox, not one of its own", async () => {
    const home = mkdtempSync(join(tmpdir(), "keyway-serve-sandbox-url-"))
    // A stand-in for a running sandbox: it records what reaches it.
    const seen: string[] = []
    const running = createServer((request, response) => {
      seen.push(request.url ?? "")
      response.writeHead(401, { "content-type": "application/json" }).end('{"message":"not this key"}')
    })
    await new Promise<void>((resolve) => running.listen(0, "127.0.0.1", resolve))
    try {
      const sandboxUrl = `http://127.0.0.1:${(running.address() as AddressInfo).port}`
      const { url } = await startServe(home, ["--sandbox"], { KEYWAY_SANDBOX_URL: sandboxUrl })
      const key = JSON.parse(
        (await keyway(["workspaces", "create", "elsewhere", "--json"], { env: { KEYWAY_HOME: home } })).stdout,
      ).key
      const answer = await fetch(`${url}/v1/connections`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-valid" } }),
      })
      expect(answer.status).toBe(422)
      expect(seen.length).toBeGreaterThan(0)
      expect(seen.every((path) => path.startsWith("/activtrak/"))).toBe(true)
    } finally {
      running.close()
    }
  }, 30_000)

  it("--checks-per-minute sets each workspace's budget of save & tests; a bad value is refused", async () => {
    const home = mkdtempSync(join(tmpdir(), "keyway-serve-limit-"))
    const { url } = await startServe(home, ["--sandbox", "--checks-per-minute", "2"])
    const key = JSON.parse(
      (await keyway(["workspaces", "create", "limited", "--json"], { env: { KEYWAY_HOME: home } })).stdout,
    ).key
    const post = () =>
      fetch(`${url}/v1/connections`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ connector: "activtrak", credentials: { apiKey: "sandbox-valid" } }),
      })
    expect((await post()).status).toBe(201)
    expect((await post()).status).toBe(201)
    const third = await post()
    expect(third.status).toBe(429)
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0)

    const refused = await keyway(["serve", "--checks-per-minute", "lots"], { env: { KEYWAY_HOME: home } })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("--checks-per-minute takes a whole number of checks")
  }, 30_000)

  it("loads the fakes only to start a sandbox, and the fleet's queues and Redis clients only with Redis", async () => {
    const home = mkdtempSync(join(tmpdir(), "keyway-serve-lazy-"))
    /** The packages a `keyway serve` loaded by the time it answers `GET /`. */
    const packagesLoadedBy = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) => {
      const log = join(home, `loaded-${started.length}.txt`)
      writeFileSync(log, "")
      const { child, url } = await startServe(home, args, {
        NODE_OPTIONS: `--import ${LOAD_LOG_PRELOAD}`,
        LOAD_LOG: log,
        KEYWAY_REDIS: "",
        KEYWAY_STORE: "",
        ...env,
      })
      expect((await fetch(`${url}/`)).status).toBe(200)
      child.kill("SIGKILL")
      return packagesLoaded(log)
    }
    const heavy = ["msw", "bullmq", "ioredis", "@redis/client"]
    // Starting its own sandbox is what the fakes are for: this also shows the log sees them.
    expect([...(await packagesLoadedBy(["--sandbox"]))].filter((name) => heavy.includes(name))).toEqual(["msw"])
    const plain = await packagesLoadedBy([])
    expect(plain.has("sqlite3") || plain.has("@keyv/sqlite") || plain.has("undici")).toBe(true)
    expect([...plain].filter((name) => heavy.includes(name))).toEqual([])
    const elsewhere = await packagesLoadedBy(["--sandbox"], { KEYWAY_SANDBOX_URL: "http://127.0.0.1:9" })
    expect([...elsewhere].filter((name) => heavy.includes(name))).toEqual([])
  }, 60_000)

  it("a removal and its event survive kill -9 together: a connection is there and not logged removed, or gone and logged", async () => {
    const home = mkdtempSync(join(tmpdir(), "keyway-serve-kill-remove-"))
    const env = { KEYWAY_HOME: home }
    const key = JSON.parse((await keyway(["workspaces", "create", "kills", "--json"], { env })).stdout).key
    const call = (url: string, method: string, path: string, body?: unknown) =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        ...(body ? { body: JSON.stringify(body) } : {}),
      })
    const args = ["--sandbox", "--checks-per-minute", "100000"]
    let { child, url } = await startServe(home, args)
    const ids: string[] = []
    for (let i = 0; i < 48; i++) {
      const made = await call(url, "POST", "/v1/connections", {
        connector: "activtrak",
        credentials: { apiKey: "sandbox-valid" },
      })
      expect(made.status).toBe(201)
      ids.push(((await made.json()) as { connection: { id: string } }).connection.id)
    }
    // Rounds of 12 removals at once, the server killed as the first answer comes back (and so at
    // different points of the others'), then started again on the same store.
    let cut = 0
    for (let round = 0; round < 4; round++) {
      const batch = ids.slice(round * 12, round * 12 + 12)
      const answers = batch.map((id) => call(url, "DELETE", `/v1/connections/${id}`).then((r) => r.status))
      await Promise.race(answers)
      child.kill("SIGKILL")
      for (const answer of await Promise.allSettled(answers)) if (answer.status === "rejected") cut++
      ;({ child, url } = await startServe(home, args))
    }
    // Some removals were cut off mid-way: the kills landed among them.
    expect(cut).toBeGreaterThan(0)
    let gone = 0
    for (const id of ids) {
      const shown = await call(url, "GET", `/v1/connections/${id}`)
      const events = (await (await call(url, "GET", `/v1/connections/${id}/events`)).json()) as {
        events: Array<{ type: string }>
      }
      const types = events.events.map((event) => event.type)
      if (shown.status === 404) {
        gone++
        expect(types, id).toEqual(["created", "removed"])
      } else {
        expect(shown.status, id).toBe(200)
        expect(types, id).toEqual(["created"])
      }
    }
    // And some were done: the answered ones at least.
    expect(gone).toBeGreaterThan(0)
  }, 120_000)

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
