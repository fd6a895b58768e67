/**
 * A definition's `errors.examples`: responses quoted from the vendor's documentation, each with the
 * outcome it must give. Each is classified exactly as the engine classifies a real answer (the same
 * observation, the same classifier), so a rule is checked against the vendor's own words rather than
 * against a response made up from the rule itself. Pure.
 */
import { classify, expectationCheck, responseObservation } from "./classify.ts"
import type { ConnectorDefinition, ErrorExample } from "./definition.ts"
import type { Verdict } from "./outcomes.ts"

/** The verdict the engine would give the example's response to the definition's test request. */
export const classifyExample = (definition: ConnectorDefinition, example: ErrorExample): Verdict =>
  classify(
    definition,
    responseObservation({
      status: example.status,
      // The transport hands over lower-case header names, as undici gives them.
      headers: Object.fromEntries(
        Object.entries(example.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
      ),
      body: example.body,
      truncated: false,
    }),
    // A 2xx example is judged as the test request would judge it.
    { success: expectationCheck(definition.test.requests[0]?.expect), secrets: [] },
  )

export interface ExampleCheck {
  readonly verdict: Verdict
  /** What the verdict got wrong, one sentence each; empty when it is what the example expects. */
  readonly mismatches: ReadonlyArray<string>
}

/** Classifies an example and says where its verdict differs from what the example expects. */
export const checkExample = (definition: ConnectorDefinition, example: ErrorExample): ExampleCheck => {
  const verdict = classifyExample(definition, example)
  const by = `(${verdict.reason})`
  const mismatches = [
    ...(verdict.outcome === example.outcome
      ? []
      : [`gives ${verdict.outcome} ${by}, but the example expects ${example.outcome}`]),
    ...(example.code === undefined || verdict.code === example.code
      ? []
      : [`gives code ${verdict.code} ${by}, but the example expects ${example.code}`]),
    ...(example.scope === undefined || verdict.scope === example.scope
      ? []
      : [
          `judges ${verdict.scope ?? "neither the credential nor the request"} ${by}, but the example expects ${example.scope}`,
        ]),
  ]
  return { verdict, mismatches }
}

/** Every example of a definition, checked: one line per example that does not give what it expects. */
export const exampleMismatches = (
  definition: ConnectorDefinition,
): ReadonlyArray<{ readonly index: number; readonly example: ErrorExample; readonly message: string }> =>
  (definition.errors.examples ?? []).flatMap((example, index) => {
    const { mismatches } = checkExample(definition, example)
    return mismatches.length === 0
      ? []
      : [{ index, example, message: `${example.status} from ${example.source} ${mismatches.join("; ")}` }]
  })
