/**
 * A YAML-only vendor's report streams in the sandbox: the fake derived from its definition serves
 * each declared stream, paged the way the stream declares, with a bounded number of records of the
 * declared shape. Before, every stream of such a vendor answered 404 (`not_found`) in the sandbox.
 * The made-up vendor declares one stream per paging kind (test/fixtures/derived/nimbus-ledger.yaml).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GENERIC_RECORDS } from "../fixtures/generic-fake.ts"
import { loadConnectorDirNow } from "../runner/catalog/load-now.ts"
import { derivedFakeInput } from "../runner/sandbox/scenarios.ts"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"
import { cli } from "./support/cli.ts"

const FIXTURE = new URL("./fixtures/derived/nimbus-ledger.yaml", import.meta.url)
const root = mkdtempSync(join(tmpdir(), "keyway-derived-streams-"))
const connectors = join(root, "connectors")
mkdirSync(connectors)
copyFileSync(FIXTURE, join(connectors, "nimbus-ledger.yaml"))
const [definition] = loadConnectorDirNow(connectors).flatMap((r) => (r.definition ? [r.definition] : []))
const { credentials } = derivedFakeInput(definition as NonNullable<typeof definition>)

const linesOf = (file: string) =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { stream: string; record: Record<string, unknown> })

/** Each stream: what to pass, and the records and pages a whole sync of `GENERIC_RECORDS` gives. */
const STREAMS = [
  // One request returns everything.
  { stream: "currencies", args: [], records: 120, pages: 1, key: "code" },
  // 10 a page, a total: 12 full pages, stopping at the total.
  { stream: "invoices", args: [], records: 120, pages: 12, key: "id" },
  // 20 a page, no total: 6 full pages and an empty one, for each of 2 date windows (7 days at most).
  {
    stream: "payments",
    args: ["--from", "2026-01-01", "--to", "2026-01-10"],
    records: 240,
    pages: 14,
    key: "id",
  },
  // 15 a page, an opaque cursor until there is none.
  { stream: "ledgerEntries", args: ["--param", "ledgerId=main"], records: 120, pages: 8, key: "entryId" },
  // A POST body window of 25, a column set, a total row count.
  { stream: "balances", args: [], records: 120, pages: 5, key: "accountId" },
  // A feed of 50 an answer, while more remains.
  { stream: "auditEvents", args: [], records: 120, pages: 3, key: "eventId" },
] as const

describe("a YAML-only vendor's streams, served by its derived fake", () => {
  let sandbox: Sandbox
  let env: Record<string, string>
  let connection: string
  beforeAll(async () => {
    sandbox = await startSandbox({ handwritten: false, generic: definition ? [definition] : [] })
    env = { KEYWAY_CONNECTORS: connectors, KEYWAY_HOME: join(root, "home"), KEYWAY_SANDBOX_URL: sandbox.url }
    const connected = await cli(["connect", "nimbus-ledger", "--sandbox", "--json"], {
      env,
      stdin: JSON.stringify(credentials),
    })
    expect(connected.stderr).toBe("")
    connection = JSON.parse(connected.stdout).connection.id as string
  })
  afterAll(() => sandbox.stop())

  it("holds a bounded number of records a stream", () => {
    expect(GENERIC_RECORDS).toBe(120)
    expect(sandbox.generic["nimbus-ledger"]?.records).toBe(GENERIC_RECORDS)
  })

  for (const { stream, args, records, pages, key } of STREAMS) {
    it(`sync ${stream} --sandbox gets every page: ${records} records in ${pages} page(s)`, async () => {
      const out = join(root, `${stream}.ndjson`)
      const synced = await cli(["sync", connection, stream, ...args, "--out", out, "--sandbox"], { env })
      expect(synced.stderr).toBe("")
      expect(synced.stdout).toMatch(
        new RegExp(
          `^Synced ${records} records of ${stream} in ${pages} pages?(?: \\(\\d+ date slices\\))? in [\\d.]+ s, 0 rate-limit waits\\.`,
        ),
      )
      expect(synced.code).toBe(0)
      const lines = linesOf(out)
      expect(lines).toHaveLength(records)
      expect(lines.every((line) => line.stream === stream)).toBe(true)
      // Every record has the declared primary key, and no two records share one.
      expect(new Set(lines.map((line) => line.record[key])).size).toBe(records)
      expect(lines.every((line) => line.record[key] !== undefined && line.record[key] !== null)).toBe(true)
    })
  }

  it("an incremental stream's records carry the cursor field, inside the date window", async () => {
    const out = join(root, "payments-window.ndjson")
    const synced = await cli(
      ["sync", connection, "payments", "--from", "2026-03-02", "--to", "2026-03-02", "--out", out, "--sandbox"],
      { env },
    )
    expect(synced.code).toBe(0)
    const lines = linesOf(out)
    expect(lines).toHaveLength(120)
    expect(lines.every((line) => String(line.record.paidAt).startsWith("2026-03-02T"))).toBe(true)
  })

  it("a stream request with the wrong key is refused as the test request is", async () => {
    const response = await fetch(`${sandbox.baseUrls["nimbus-ledger"]}/invoices`, {
      headers: { Authorization: "Bearer nl_wrongwrongwrongwrongwrongwrong" },
    })
    expect(response.status).toBe(401)
  })

  it("keyway sync --sandbox with no running sandbox starts one with the derived fake", async () => {
    const home = mkdtempSync(join(tmpdir(), "keyway-derived-streams-own-"))
    const own = { KEYWAY_CONNECTORS: connectors, KEYWAY_HOME: home }
    const connected = await cli(["connect", "nimbus-ledger", "--sandbox", "--json"], {
      env: own,
      stdin: JSON.stringify(credentials),
    })
    const id = JSON.parse(connected.stdout).connection.id as string
    const out = join(home, "ledger.ndjson")
    const synced = await cli(["sync", id, "ledgerEntries", "--param", "ledgerId=main", "--out", out, "--sandbox"], {
      env: own,
    })
    expect(synced.stdout).toMatch(/^Synced 120 records of ledgerEntries in 8 pages/)
    expect(synced.code).toBe(0)
  })
})
