/**
 * What a sandbox user needs to know, from the fakes: the scenario each test key picks, the wait-header
 * modes, and the test credentials a derived fake accepts.
 */
export { conformanceCredentials as derivedFakeCredentials } from "../../fixtures/generic-fake.ts"
export { SCENARIO_TABLE, WAIT_MODE_TABLE, WAIT_MODES, type WaitMode } from "../../fixtures/scenarios.ts"
