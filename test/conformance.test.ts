/**
 * Every file in connectors/ gets the standard conformance suite, with no per-file test code: a
 * definition added later by an engineer who writes no TypeScript is covered the moment it lands.
 */
import { CONNECTORS_DIR } from "../runner/catalog/catalog.ts"
import { registerConformanceSuite } from "./support/conformance.ts"

registerConformanceSuite(CONNECTORS_DIR, "connectors/")
