/**
 * What a sandbox user needs to know, from the fakes: the scenario each test key picks, the wait-header
 * modes, and the test credentials a derived fake accepts.
 */
import type { ConnectorDefinition } from "../../core/definition.ts"
import { sampleCredential } from "../../core/samples.ts"
import { derivedFakeInput } from "../../fixtures/generic-fake.ts"

export { derivedFakeInput } from "../../fixtures/generic-fake.ts"
export { SCENARIO_TABLE, WAIT_MODE_TABLE, WAIT_MODES, type WaitMode } from "../../fixtures/scenarios.ts"

export interface DerivedScenario {
  readonly scenario: "valid key" | "invalid key"
  readonly credentials: Readonly<Record<string, string>>
  readonly settings: Readonly<Record<string, string>>
}

/**
 * The two scenarios a derived fake acts out by credentials alone: its test credentials, and the same
 * with the last required secret changed by one character (so it still has the right format).
 */
export const derivedFakeScenarios = (definition: ConnectorDefinition): ReadonlyArray<DerivedScenario> => {
  const { credentials: valid, settings } = derivedFakeInput(definition)
  const carrier = definition.credentials.filter((c) => c.secret && (c.required ?? true)).at(-1)
  const wrong = carrier ? sampleCredential(definition, carrier, 1) : undefined
  return [
    { scenario: "valid key", credentials: valid, settings },
    ...(carrier && wrong
      ? [{ scenario: "invalid key" as const, credentials: { ...valid, [carrier.key]: wrong }, settings }]
      : []),
  ]
}
