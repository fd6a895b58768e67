/**
 * `errors.examples`: responses quoted from a vendor's docs, each with the outcome it must give. The
 * conformance suite and `keyway validate` classify each one as the engine would; an example whose
 * outcome the rules do not give fails both.
 */
import { describe, expect, it } from "vitest"
import type { ConnectorDefinition } from "../core/definition.ts"
import { checkExample } from "../core/error-examples.ts"
import { formatProblem, loadDefinitionText } from "../core/load.ts"
import { MINIMAL, minimalWith } from "./minimal-definition.ts"
import { expectExampleHolds } from "./support/conformance.ts"

const FILE = "connectors/acme.yaml"

/** MINIMAL with examples after its rules: a 401 whose body names an expired key, and others. */
const withExamples = (examples: string): string =>
  minimalWith("  useDefaultsFor: [429]\n", `  useDefaultsFor: [429]\n  examples:\n${examples}`)

const load = (text: string): ConnectorDefinition => {
  const result = loadDefinitionText(FILE, text)
  if (!result.definition) throw new Error(result.problems.map(formatProblem).join("\n"))
  return result.definition
}

const WRONG = withExamples(
  [
    "    - status: 401",
    `      body: '{"error":"expired","message":"Token expired"}'`,
    // The only 401 rule says invalid_credentials: this example expects what no rule gives.
    "      outcome: expired_credentials",
    '      source: "made up for this test (L)"',
    "",
  ].join("\n"),
)

describe("error examples", () => {
  it("load, and a definition without any is unchanged", () => {
    expect(loadDefinitionText(FILE, MINIMAL).problems).toEqual([])
    const right = withExamples(
      [
        "    - status: 403",
        "      headers: { Content-Type: application/json }",
        `      body: '{"message":"Upgrade your plan"}'`,
        "      outcome: plan_not_eligible",
        "      code: plan_not_eligible",
        "      scope: credential",
        '      source: "made up for this test (L)"',
        "    - status: 429",
        "      headers: { Retry-After: '30' }",
        '      body: ""',
        "      outcome: rate_limited",
        '      source: "made up for this test (L)"',
        "",
      ].join("\n"),
    )
    expect(loadDefinitionText(FILE, right).problems).toEqual([])
    const definition = load(right)
    expect(definition.errors.examples).toHaveLength(2)
    for (const example of definition.errors.examples ?? []) expectExampleHolds(definition, example)
  })

  it("are classified as the engine classifies a response: header names in any case, the body parsed as JSON", () => {
    const definition = load(
      minimalWith(
        "    - { status: 403, outcome: plan_not_eligible, message: Plan., remediation: Upgrade. }\n",
        [
          "    - { status: 403, header: { name: x-reason, contains: ip }, outcome: ip_not_allowed, message: IP., remediation: Allow it. }",
          "    - { status: 403, json: { path: code, equals: SCOPE }, outcome: insufficient_permissions, message: Scope., remediation: Widen. }",
          "    - { status: 403, outcome: plan_not_eligible, message: Plan., remediation: Upgrade. }",
          "",
        ].join("\n"),
      ),
    )
    const example = { status: 403, body: "", outcome: "ip_not_allowed", source: "test" } as const
    expect(checkExample(definition, { ...example, headers: { "X-Reason": "IP blocked" } }).mismatches).toEqual([])
    expect(
      checkExample(definition, { ...example, body: '{"code":"SCOPE"}', outcome: "insufficient_permissions" })
        .mismatches,
    ).toEqual([])
    expect(checkExample(definition, { ...example, outcome: "plan_not_eligible" }).verdict.reason).toBe("rule 4")
  })

  it("says what an example whose outcome the rules do not give got instead", () => {
    const definition = load(WRONG)
    const [example] = definition.errors.examples ?? []
    if (!example) throw new Error("test setup: no example")
    expect(checkExample(definition, example).mismatches).toEqual([
      "gives invalid_credentials (rule 1), but the example expects expired_credentials",
    ])
    // A code or a scope that differs is a mismatch too.
    expect(
      checkExample(definition, { ...example, outcome: "invalid_credentials", code: "not_found", scope: "request" })
        .mismatches,
    ).toEqual([
      "gives code invalid_credentials (rule 1), but the example expects not_found",
      "judges credential (rule 1), but the example expects request",
    ])
  })

  // The conformance suite's own check, run on the wrong example: it must fail.
  it.fails("fail the conformance check when the rules give another outcome", () => {
    const definition = load(WRONG)
    for (const example of definition.errors.examples ?? []) expectExampleHolds(definition, example)
  })

  it("fail keyway validate --strict: a warning at the example itself", () => {
    const result = loadDefinitionText(FILE, WRONG)
    expect(result.definition).toBeDefined()
    expect(result.problems.map((p) => [p.code, p.severity])).toEqual([["error-example-mismatch", "warning"]])
    expect(result.problems.map(formatProblem)).toEqual([
      `${FILE}:40:7 warning errors.examples[0]: gives invalid_credentials (rule 1), but the example expects expired_credentials`,
    ])
  })
})
