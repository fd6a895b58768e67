/**
 * Trust, part 1: what a hostile user, an unlucky operator or a careless customer found, each pinned
 * by a test that failed before its fix. (Rotation killed mid-way, rotations racing and a fresh home's
 * first use race across real processes: test/e2e/trust.test.ts.)
 */

import { lookup } from "node:dns/promises"
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { createServer as createHttpServer, type Server } from "node:http"
import { createServer as createTcpServer } from "node:net"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ConnectorDefinition } from "../core/definition.ts"
import { loadDefinitionText } from "../core/load.ts"
import { prepare } from "../core/prepare.ts"
import { redactText } from "../core/redact.ts"
import { loadCatalog } from "../runner/catalog/load-now.ts"
import { createKeyway, type Keyway } from "../runner/library/index.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { Store } from "../runner/vault/store.ts"
import { MINIMAL, minimalWith } from "./minimal-definition.ts"
import { cli } from "./support/cli.ts"

const catalog = loadCatalog()
const activityinfo = catalog.get("activityinfo") as ConnectorDefinition
const home = () => mkdtempSync(join(tmpdir(), "keyway-trust-"))

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await startSandbox({ records: 50 })
})
afterAll(() => sandbox.stop())

describe("4. a sealed record is bound to where it lives and to what it says", () => {
  let dir: string
  let a: Keyway
  let b: Keyway
  beforeAll(() => {
    dir = home()
    a = createKeyway({ sandboxUrl: sandbox.url, store: { home: dir, url: undefined, workspace: "tenant-a" }, env: {} })
    b = createKeyway({ sandboxUrl: sandbox.url, store: { home: dir, url: undefined, workspace: "tenant-b" }, env: {} })
  })
  afterAll(async () => {
    await a.close()
    await b.close()
  })
  const requestsServed = () => [...sandbox.state.statusCounts.values()].reduce((x, y) => x + y, 0)
  const raw = (keyway: Keyway, id: string) => keyway.run(Effect.flatMap(Store, (store) => store.get(id)))
  const write = (keyway: Keyway, record: NonNullable<Awaited<ReturnType<typeof raw>>>) =>
    keyway.run(Effect.flatMap(Store, (store) => store.put(record)))

  it("a whole record copied into another workspace does not test as connected there", async () => {
    const { connection } = await a.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
    const id = connection?.id as string
    await write(b, (await raw(a, id)) as NonNullable<Awaited<ReturnType<typeof raw>>>)
    const before = requestsServed()
    const copied = await b.connections.test(id).catch((error: unknown) => error)
    expect(copied).toMatchObject({ _tag: "UnsealFailed" })
    expect(requestsServed()).toBe(before)
  })

  it("editing a stored record's server URL is detected, and its token is sent nowhere", async () => {
    const { connection } = await a.connect({
      connectorId: "activityinfo",
      credentials: { apiToken: "sandbox-valid" },
      settings: { serverUrl: "https://ai.customer.example" },
    })
    const id = connection?.id as string
    const record = (await raw(a, id)) as NonNullable<Awaited<ReturnType<typeof raw>>>
    await write(a, { ...record, settings: { serverUrl: "https://attacker.example" } })
    const before = requestsServed()
    expect(await a.connections.test(id).catch((error: unknown) => error)).toMatchObject({ _tag: "UnsealFailed" })
    expect(requestsServed()).toBe(before)
  })

  it("changing a stored record's connector is detected", async () => {
    const { connection } = await a.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
    const id = connection?.id as string
    const record = (await raw(a, id)) as NonNullable<Awaited<ReturnType<typeof raw>>>
    await write(a, { ...record, connector: "peopletray" })
    expect(await a.connections.test(id).catch((error: unknown) => error)).toMatchObject({ _tag: "UnsealFailed" })
  })

  it("a record moved to a key that is not its own id is refused", async () => {
    const { connection } = await a.connect({ connectorId: "activtrak", credentials: { apiKey: "sandbox-valid" } })
    const id = connection?.id as string
    // Move the row itself in the SQLite file, as someone with write access to it could.
    const sqlite3 = (await import("sqlite3")).default
    const db = new sqlite3.Database(join(dir, "keyway.sqlite"))
    await new Promise<void>((resolve, reject) =>
      db.run(
        "UPDATE keyv SET key = ? WHERE key = ?",
        ["keyway-tenant-a:con_0000000000000000", `keyway-tenant-a:${id}`],
        (error: Error | null) => (error ? reject(error) : resolve()),
      ),
    )
    await new Promise<void>((resolve) => db.close(() => resolve()))
    const moved = await a.connections.test("con_0000000000000000").catch((error: unknown) => error)
    expect(moved).toMatchObject({ _tag: "UnsealFailed" })
  })
})

describe("5. symlinks are never followed", () => {
  it("sync --out never writes through a symlink planted at its partial file", async () => {
    const dir = home()
    const env = { KEYWAY_HOME: dir, KEYWAY_SANDBOX_URL: sandbox.url }
    const connected = await cli(["connect", "trackvia", "--sandbox", "--json"], {
      env,
      stdin: '{"apiKey":"sandbox-valid","authToken":"sandbox-records-1200"}',
    })
    const id = JSON.parse(connected.stdout).connection.id as string
    const precious = join(dir, "precious.txt")
    writeFileSync(precious, "precious")
    const out = join(dir, "records.ndjson")
    symlinkSync(precious, `${out}.partial`)
    const synced = await cli(["sync", id, "viewRecords", "--param", "viewId=341", "--out", out, "--sandbox"], { env })
    expect(synced.code).toBe(0)
    expect(readFileSync(precious, "utf8")).toBe("precious")
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(1200)
  })

  it("a symlinked keyway.sqlite in KEYWAY_HOME is refused with a clear error, and its target is untouched", async () => {
    const dir = home()
    const outside = join(home(), "elsewhere.sqlite")
    writeFileSync(outside, "not yours")
    symlinkSync(outside, join(dir, "keyway.sqlite"))
    const listed = await cli(["connections"], { env: { KEYWAY_HOME: dir } })
    expect(listed.code).toBe(2)
    expect(listed.stderr).toMatch(/keyway\.sqlite is a symbolic link/)
    expect(readFileSync(outside, "utf8")).toBe("not yours")
  })

  it("a symlinked keys/current in KEYWAY_HOME is refused with a clear error", async () => {
    const dir = home()
    mkdirSync(join(dir, "keys"), { recursive: true })
    const outside = join(home(), "current")
    writeFileSync(outside, "deadbeefdead")
    symlinkSync(outside, join(dir, "keys", "current"))
    const connected = await cli(["connect", "activtrak", "--sandbox"], {
      env: { KEYWAY_HOME: dir, KEYWAY_SANDBOX_URL: sandbox.url },
      stdin: '{"apiKey":"sandbox-valid"}',
    })
    expect(connected.code).toBe(2)
    expect(connected.stderr).toMatch(/keys\/current is a symbolic link/)
  })
})

/** Literal special-purpose addresses that passed the self-hosted URL check. */
const SPECIAL_LITERALS = [
  "[::127.0.0.1]",
  "[fe90::1]",
  "[febf::1]",
  "[fec0::1]",
  "[64:ff9b::7f00:1]",
  "[2002:7f00:1::]",
  "198.18.0.1",
  "224.0.0.1",
  "255.255.255.255",
]
const SPECIAL_NAMES = ["printer.localhost", "localhost.", "db.internal"]

describe("6. a self-hosted URL never reaches a private address", () => {
  for (const host of [...SPECIAL_LITERALS, ...SPECIAL_NAMES]) {
    it(`refuses ${host} before any request`, () => {
      const prepared = prepare(
        activityinfo,
        {
          connectorId: "activityinfo",
          credentials: { apiToken: "sandbox-valid" },
          settings: { serverUrl: `https://${host}` },
        },
        undefined,
      )
      expect(Either.isLeft(prepared) && prepared.left.problems.map((p) => p.field)).toEqual(["settings.serverUrl"])
    })
  }

  it("a base URL resolved before is never another settings' or the sandbox's (resolutions are remembered)", () => {
    const baseUrlOf = (serverUrl: string | undefined, sandboxUrl?: string) => {
      const prepared = prepare(
        activityinfo,
        {
          connectorId: "activityinfo",
          credentials: { apiToken: "sandbox-valid" },
          ...(serverUrl ? { settings: { serverUrl } } : {}),
        },
        sandboxUrl,
      )
      return Either.isRight(prepared) ? prepared.right.baseUrl.href : prepared.left.problems.map((p) => p.field)
    }
    for (let round = 0; round < 2; round++) {
      expect(baseUrlOf("https://activityinfo.example.org")).toBe("https://activityinfo.example.org/")
      expect(baseUrlOf("https://127.0.0.1")).toEqual(["settings.serverUrl"])
      expect(baseUrlOf("https://other.example.org/ai")).toBe("https://other.example.org/ai")
      expect(baseUrlOf("https://other.example.org/ai", "http://127.0.0.1:9")).toBe("http://127.0.0.1:9/activityinfo/ai")
      expect(baseUrlOf("https://other.example.org/ai", "http://example.org")).toEqual(["sandbox"])
    }
  })

  it("a name that resolves to loopback is refused at connect time, and nothing connects", async () => {
    // This machine's own name resolves to 127.0.0.1 here (a common /etc/hosts entry).
    const name = hostname()
    const addresses = await lookup(name, { all: true }).catch(() => [])
    expect(addresses.length, `${name} must resolve for this test`).toBeGreaterThan(0)
    let connections = 0
    const listener = createTcpServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve))
    const port = (listener.address() as { port: number }).port
    const keyway = createKeyway({})
    try {
      const result = await keyway.test({
        connectorId: "activityinfo",
        credentials: { apiToken: "a-real-looking-token-1234" },
        settings: { serverUrl: `https://${name}:${port}` },
      })
      expect(connections).toBe(0)
      expect(result.verdict).toMatchObject({ outcome: "address_not_allowed", code: "address_blocked", actor: "user" })
    } finally {
      await keyway.close()
      listener.close()
    }
  })
})

/** Special-purpose addresses a name might resolve to; one of each range above, and their kin. */
const SPECIAL_ADDRESSES = [
  ["127.0.0.1", 4],
  ["10.1.2.3", 4],
  ["172.16.0.1", 4],
  ["192.168.1.1", 4],
  ["169.254.169.254", 4],
  ["100.64.0.1", 4],
  ["198.18.0.1", 4],
  ["224.0.0.1", 4],
  ["255.255.255.255", 4],
  ["0.0.0.0", 4],
  ["::1", 6],
  ["::127.0.0.1", 6],
  ["::ffff:127.0.0.1", 6],
  ["fe90::1", 6],
  ["febf::1", 6],
  ["fec0::1", 6],
  ["fd00::1", 6],
  ["64:ff9b::7f00:1", 6],
  ["2002:7f00:1::", 6],
  ["ff02::1", 6],
] as const

describe("6. the resolved addresses are checked at connect time", () => {
  const checkResolvingTo = async (resolved: ReadonlyArray<{ address: string; family: number }>) => {
    const keyway = createKeyway({ transport: { resolve: async () => resolved } })
    try {
      return await keyway.test({
        connectorId: "activityinfo",
        credentials: { apiToken: "a-real-looking-token-1234" },
        settings: { serverUrl: "https://selfhosted.customer.example" },
      })
    } finally {
      await keyway.close()
    }
  }

  for (const [address, family] of SPECIAL_ADDRESSES) {
    it(`refuses a name that resolves to ${address}`, async () => {
      const result = await checkResolvingTo([{ address, family }])
      expect(result.verdict).toMatchObject({ outcome: "address_not_allowed", code: "address_blocked" })
      expect(result.attempts).toEqual([{ request: "GET /resources/databases", error: "address_blocked" }])
    })
  }

  it("refuses a name with one private answer among public ones", async () => {
    const result = await checkResolvingTo([
      { address: "93.184.216.34", family: 4 },
      { address: "10.0.0.5", family: 4 },
    ])
    expect(result.verdict.code).toBe("address_blocked")
  })

  it("checks an allow-listed host's addresses too", async () => {
    const keyway = createKeyway({ transport: { resolve: async () => [{ address: "127.0.0.1", family: 4 }] } })
    try {
      const result = await keyway.test({
        connectorId: "peopletray",
        credentials: { apiKey: "a-real-looking-key-1234" },
      })
      expect(result.verdict).toMatchObject({ outcome: "address_not_allowed", code: "address_blocked" })
    } finally {
      await keyway.close()
    }
  })
})

describe("7. an allow-list cannot allow anything", () => {
  for (const entry of ["*", "*.*", "127.0.0.1", "localhost", "*.internal", "10.0.0.*"]) {
    it(`validate refuses allowedHosts entry "${entry}"`, () => {
      const text = minimalWith(
        "allowedHosts: [api.acme.example, eu.acme.example]",
        `allowedHosts: [api.acme.example, eu.acme.example, "${entry}"]`,
      )
      const result = loadDefinitionText("connectors/acme.yaml", text)
      expect(result.problems.filter((p) => p.severity === "error").map((p) => p.code)).toContain(
        "allowed-host-too-broad",
      )
    })
  }
})

describe("8. redaction catches what a vendor echoes, however it is written", () => {
  const SECRET = "Zq7xV9kP2mW4tR8yB3nL"
  const forms: Record<string, string> = {
    exact: SECRET,
    "upper-cased": SECRET.toUpperCase(),
    "lower-cased": SECRET.toLowerCase(),
    "minus its last character": SECRET.slice(0, -1),
    "minus its first character": SECRET.slice(1),
    "base64 of the Basic pair": Buffer.from(`api:${SECRET}`).toString("base64"),
    "base64 of the Basic pair with a longer user": Buffer.from(`someone@example.com:${SECRET}`).toString("base64"),
    hex: Buffer.from(SECRET).toString("hex"),
    "upper-case hex": Buffer.from(SECRET).toString("hex").toUpperCase(),
    "URL-encoded with a reserved character": encodeURIComponent(`${SECRET}/+`),
    "split by a zero-width space": `${SECRET.slice(0, 9)}\u200b${SECRET.slice(9)}`,
    "split by a NUL": `${SECRET.slice(0, 9)}\u0000${SECRET.slice(9)}`,
  }
  const leaks = (text: string) =>
    text.toLowerCase().includes(SECRET.slice(2, 14).toLowerCase()) ||
    text.includes(Buffer.from(SECRET).toString("hex").slice(4, 28)) ||
    text.toUpperCase().includes(Buffer.from(SECRET).toString("hex").slice(4, 28).toUpperCase())
  for (const [form, echoed] of Object.entries(forms)) {
    it(`redacts the key echoed ${form}`, () => {
      const shown = redactText(`invalid key: ${echoed} (request 42)`, [SECRET])
      expect(shown).toContain("[redacted")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the NUL a vendor split the key with.
      expect(leaks(shown.replace(/\u0000|\u200b/g, "")), shown).toBe(false)
      // base64 of the pair: the decoded text must not hold the key either.
      const decoded = shown
        .replace(/[^A-Za-z0-9+/=]/g, " ")
        .split(" ")
        .map((word) => Buffer.from(word, "base64").toString("latin1"))
        .join(" ")
      expect(decoded.includes(SECRET.slice(4, 16))).toBe(false)
    })
  }

  it("an upper-cased echo never reaches the message, nor a sync checkpoint at rest", async () => {
    const server: Server = createHttpServer((request, response) => {
      const key = request.headers["x-api-key"]
      response.writeHead(401, { "content-type": "application/json" })
      response.end(JSON.stringify({ message: `Key ${String(key).toUpperCase()} is not valid` }))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    const acme = loadDefinitionText(
      "connectors/acme.yaml",
      minimalWith("errors:\n  rules:", "errors:\n  messagePaths: [message]\n  rules:"),
    ).definition as ConnectorDefinition
    const keyway = createKeyway({ sandboxUrl: url, definitions: [acme] })
    try {
      const result = await keyway.test({ connectorId: "acme", credentials: { apiKey: SECRET } })
      expect(result.verdict.vendorMessage).toContain("[redacted")
      expect(JSON.stringify(result).toLowerCase()).not.toContain(SECRET.toLowerCase())
    } finally {
      await keyway.close()
      server.close()
    }
  })
})

describe("9. a definition's pattern cannot hang a process", () => {
  it("a backtracking-prone pattern takes milliseconds on a hostile key", async () => {
    const text = minimalWith("    secret: true\n", '    secret: true\n    format: { pattern: "^(a+)+$" }\n')
    const acme = loadDefinitionText("connectors/acme.yaml", text).definition as ConnectorDefinition
    const keyway = createKeyway({ sandboxUrl: sandbox.url, definitions: [acme] })
    try {
      const started = performance.now()
      const failed = await keyway
        .test({ connectorId: "acme", credentials: { apiKey: `${"a".repeat(33)}!` } })
        .catch((error: unknown) => error)
      expect(failed).toMatchObject({ _tag: "InvalidInput" })
      expect(performance.now() - started).toBeLessThan(1000)
    } finally {
      await keyway.close()
    }
  }, 5_000)
})

describe("10. a label cannot write to the terminal", () => {
  for (const label of ["\u001b]0;owned\u0007", "\u001b[2J", "line\nbreak"]) {
    it(`refuses the label ${JSON.stringify(label)}`, async () => {
      const connected = await cli(["connect", "activtrak", "--sandbox", "--label", label], {
        env: { KEYWAY_HOME: home(), KEYWAY_SANDBOX_URL: sandbox.url },
        stdin: '{"apiKey":"sandbox-valid"}',
      })
      expect(connected.code).toBe(2)
      expect(connected.stderr).toMatch(/^keyway: label contains a control character/)
      expect(connected.stdout).not.toContain("\u001b")
    })
  }
})

describe("11. input has stated limits", () => {
  it("a definition larger than the stated limit is refused at once, naming the limit", () => {
    const huge = `${MINIMAL}\n# ${"x".repeat(2 * 1024 * 1024)}\n`
    const started = performance.now()
    const result = loadDefinitionText("connectors/acme.yaml", huge)
    expect(result.problems.map((p) => p.code)).toEqual(["too-large"])
    expect(result.problems[0]?.message).toMatch(/larger than 1 MiB/)
    expect(performance.now() - started).toBeLessThan(500)
  })

  it("a command loads only the definition it needs: an unreadable other file is never opened", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyway-connectors-"))
    writeFileSync(join(dir, "activtrak.yaml"), readFileSync(new URL("../connectors/activtrak.yaml", import.meta.url)))
    // A file that hangs whoever reads it: a FIFO with no writer.
    const { execFileSync } = await import("node:child_process")
    execFileSync("mkfifo", [join(dir, "zzz-hangs.yaml")])
    const { catalogFromDir, findDefinition } = await import("../runner/catalog/catalog.ts")
    const found = await Effect.runPromise(findDefinition("activtrak").pipe(Effect.provide(catalogFromDir(dir))))
    expect(found.id).toBe("activtrak")
  }, 5_000)

  it("validate stays linear in unknown keys, and lists the first few hundred problems with a count of the rest", async () => {
    const dir = home()
    const file = join(dir, "acme.yaml")
    const junk = Array.from({ length: 20_000 }, (_, i) => `junk${i}: ${i}`).join("\n")
    writeFileSync(file, `${MINIMAL}${junk}\n`)
    const started = performance.now()
    const result = await cli(["validate", file])
    expect(performance.now() - started).toBeLessThan(8_000)
    expect(result.code).toBe(2)
    const lines = result.stderr.trim().split("\n")
    expect(lines.length).toBeLessThanOrEqual(301)
    expect(lines.at(-1)).toMatch(/and 19,\d{3} more problems in .*acme\.yaml/)
  }, 30_000)
})
