/**
 * What the customer pages say is what Keyway does: the expiry warnings, the egress address for a key
 * restricted to an IP address, the retry policy, and only the notes that apply to each page.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import type { ConnectorDefinition, ErrorRule } from "../core/definition.ts"
import { EXPIRY_WARNING_DAYS, expiryWarning } from "../core/expiry.ts"
import { loadDefinitionText } from "../core/load.ts"
import { backoffDelay, policyFor } from "../core/retry.ts"
import {
  connectorPage,
  EGRESS_IP_ENV,
  EGRESS_MARKER,
  egressText,
  expiryPolicyText,
  pageOptionsFrom,
  retryPolicyText,
  whenText,
} from "../runner/authoring/docs.ts"
import { loadConnectorDirNow } from "../runner/catalog/load-now.ts"
import { DOCS_DIR } from "../runner/cli/commands/docs.ts"
import { minimalWith } from "./minimal-definition.ts"
import { cli } from "./support/cli.ts"

const definitions = loadConnectorDirNow().flatMap((r) => (r.definition ? [r.definition] : []))
const definition = (id: string): ConnectorDefinition => {
  const found = definitions.find((d) => d.id === id)
  if (!found) throw new Error(`no valid definition ${id}`)
  return found
}
const committed = (id: string): string => readFileSync(join(DOCS_DIR, `${id}.md`), "utf8")
const section = (page: string, title: string): string => {
  const start = page.indexOf(`## ${title}`)
  const end = page.indexOf("\n## ", start + 1)
  return page.slice(start, end === -1 ? undefined : end)
}
const load = (text: string): ConnectorDefinition => {
  const result = loadDefinitionText("connectors/acme.yaml", text)
  if (!result.definition) throw new Error(JSON.stringify(result.problems))
  return result.definition
}

afterEach(() => {
  vi.unstubAllEnvs()
})

describe("expiry: the page says what Keyway does, with the numbers it uses", () => {
  const [first, week, last] = EXPIRY_WARNING_DAYS
  const DAY = 86_400_000
  const now = Date.parse("2026-03-01T12:00:00Z")
  const dayAhead = (days: number) => new Date(now + days * DAY).toISOString().slice(0, 10)
  const warn = (days: number) => expiryWarning("The key", { date: dayAhead(days), source: "given" }, now)

  it("the PeopleTray page states the warning days of EXPIRY_WARNING_DAYS, and no other promise", () => {
    const notes = section(committed("peopletray"), "Security notes")
    expect(notes).toContain(expiryPolicyText({ afterDays: 365, note: "" }))
    expect(notes).toContain(`From ${first} days before that date`)
    expect(notes).toContain(`more urgent from ${week} days and again from ${last} day before`)
    expect(notes).toContain(`less than ${first} days before that date`)
    expect(notes).toContain("365 days after the day you connect it")
    expect(notes).not.toMatch(/warns? \d+ days before/)
  })

  it("the warnings behave as the page says: from the first day, more urgent at a week and at the last day", () => {
    expect(warn(first + 1)).toBeUndefined()
    expect(warn(first)).toContain(`in ${first} days`)
    expect(warn(week + 1)).not.toContain("within a week")
    expect(warn(week)).toContain("within a week")
    expect(warn(last)).toContain("tomorrow")
    expect(warn(-1)).toContain("expired on")
  })
})

describe("the egress address, for a PeopleTray key restricted to an IP address", () => {
  const peopletray = () => definition("peopletray")

  it("the definition marks the setup step that needs it", () => {
    expect(peopletray().setup.steps.some((step) => step.includes(EGRESS_MARKER))).toBe(true)
  })

  it("with KEYWAY_EGRESS_IP set, the page names the address right after that step", () => {
    const page = connectorPage(peopletray(), "connectors/peopletray.yaml", { egressIp: "203.0.113.7" })
    const steps = section(page, "Setup steps")
    expect(steps).toContain(
      `${EGRESS_MARKER}. Keyway calls PeopleTray from 203.0.113.7; add it to the key's IP restriction.`,
    )
    expect(steps).not.toContain("Ask your Keyway operator")
  })

  it("unset, the page tells the customer to ask their Keyway operator; the committed page is generated so", () => {
    const page = connectorPage(peopletray(), "connectors/peopletray.yaml", {})
    const expected = egressText("PeopleTray", undefined)
    expect(expected).toContain("Ask your Keyway operator")
    expect(expected).toContain(EGRESS_IP_ENV)
    expect(section(page, "Setup steps")).toContain(expected)
    expect(section(committed("peopletray"), "Setup steps")).toContain(expected)
  })

  it("pages read KEYWAY_EGRESS_IP from the environment; a blank one counts as unset", async () => {
    expect(pageOptionsFrom({ [EGRESS_IP_ENV]: " 203.0.113.7 " })).toEqual({ egressIp: "203.0.113.7" })
    expect(pageOptionsFrom({ [EGRESS_IP_ENV]: "  " })).toEqual({})
    expect(pageOptionsFrom({})).toEqual({})
    vi.stubEnv(EGRESS_IP_ENV, "198.51.100.20")
    const out = mkdtempSync(join(tmpdir(), "keyway-docs-"))
    const result = await cli(["docs", "--out", out])
    expect(result.code).toBe(0)
    expect(readFileSync(join(out, "peopletray.md"), "utf8")).toContain("Keyway calls PeopleTray from 198.51.100.20")
  })

  it("pages of vendors without the marker say nothing about it", () => {
    for (const d of definitions.filter((d) => !d.setup.steps.some((step) => step.includes(EGRESS_MARKER)))) {
      expect(connectorPage(d, "x", { egressIp: "203.0.113.7" })).not.toContain("203.0.113.7")
    }
  })
})

describe("the retry policy on the pages is the engine's", () => {
  it("prints the first delay, the cap, the attempts and the budgets from the definition's numbers", () => {
    const odd = load(
      minimalWith(
        "  baseDelayMs: 1000\n  maxDelayMs: 30000\n  maxAttempts: 5\n  saveAndTestBudgetMs: 10000\n",
        "  baseDelayMs: 1500\n  maxDelayMs: 20000\n  maxAttempts: 4\n  saveAndTestBudgetMs: 8000\n",
      ),
    )
    const check = policyFor(odd.rateLimit, "saveAndTest")
    const text = retryPolicyText(odd)
    expect(backoffDelay(check, 0, 0)).toBe(odd.rateLimit.baseDelayMs)
    expect(text).toContain(`first retry after ${odd.rateLimit.baseDelayMs / 1000} s to `)
    expect(text).toContain(`at most ${odd.rateLimit.maxDelayMs / 1000} s per wait`)
    expect(text).toContain(`over at most ${odd.rateLimit.maxAttempts} attempts`)
    expect(text).toContain(`within ${odd.rateLimit.saveAndTestBudgetMs / 1000} s`)
  })

  it("every committed page prints its definition's policy, and none says 'from 1 s'", () => {
    for (const d of definitions) {
      const page = committed(d.id)
      expect(page).toContain(retryPolicyText(d))
      expect(page).not.toContain("from 1 s")
    }
  })
})

describe("pages omit what does not apply", () => {
  it("a curl command without dates has no note about dates; one with dates names its example dates", () => {
    for (const d of definitions) {
      const verify = section(committed(d.id), "Verify your setup")
      const command = /```sh\n([\s\S]*?)\n```/.exec(verify)?.[1] ?? ""
      expect(verify).not.toContain("YYYY-MM-DD")
      if (!/\d{4}-\d{2}-\d{2}/.test(command)) expect(verify).not.toMatch(/date|are examples|is an example/)
      if (!/<[^<>]+>/.test(command)) expect(verify).not.toContain("angle brackets")
    }
    const page = connectorPage(load(minimalWith("", "")), "connectors/acme.yaml", {})
    const verify = section(page, "Verify your setup")
    expect(verify).toContain("since=2026-01-08")
    expect(verify).toContain("`2026-01-08` is an example: Keyway's own test sends the current value.")
  })

  it("a troubleshooting row with no condition says its status; 'any other' only after a rule that takes some", () => {
    const rule = (extra: Partial<ErrorRule>): ErrorRule =>
      ({ status: 401, outcome: "invalid_credentials", message: "m", remediation: "r", ...extra }) as ErrorRule
    expect(whenText(rule({}), [])).toBe("any 401")
    expect(whenText(rule({ status: [500, 502] }), [])).toBe("any 500 or 502")
    expect(whenText(rule({}), [rule({ status: 403 })])).toBe("any 401")
    expect(whenText(rule({}), [rule({ bodyContains: "expired" })])).toBe("any other 401")
    expect(whenText(rule({ status: 503 }), [rule({ status: "5xx", bodyContains: "x" })])).toBe("any other 503")
    expect(whenText(rule({ header: { name: "Retry-After", present: false } } as Partial<ErrorRule>), [])).toBe(
      "no header `Retry-After`",
    )
    for (const d of definitions) {
      expect(section(committed(d.id), "Troubleshooting")).not.toMatch(/^\| [^|]+ \| any other \|/m)
    }
  })
})
