/**
 * Keyway for Effect programs (`import ... from "keyway/effect"`): the services, the Layers that
 * provide them, and the Effects that the Promise API in `index.ts` wraps. The HTTP service and the
 * workers are built from these.
 */
export { classify, type Observation } from "../../core/classify.ts"
export { ENGINE_DEFAULTS } from "../../core/defaults.ts"
export { ConnectorDefinition } from "../../core/definition.ts"
export { formatProblem, type LoadResult, loadDefinitionText, type Problem } from "../../core/load.ts"
export { DEFAULT_STATUS_TABLE, OUTCOME_INFO, OUTCOMES, type Verdict, type VerdictCode } from "../../core/outcomes.ts"
export { type CredentialInput, prepare } from "../../core/prepare.ts"
export {
  Catalog,
  type CatalogService,
  catalogFromDir,
  catalogOf,
  findDefinition,
} from "../catalog/catalog.ts"
export { type CheckOptions, type CheckResult, testCredentials } from "../check/check.ts"
export { type Attempt, type Engine, engineLayer, HttpEngine, makeEngine } from "../http/engine.ts"
export {
  HttpTransport,
  makeAgent,
  makeAgents,
  makeTransport,
  type Resolver,
  type TransportOptions,
  transportLayer,
} from "../http/transport.ts"
export { Sandbox, type SandboxTarget } from "../sandbox/service.ts"
export { fileSink, type Sink, writableSink } from "../sync/sinks.ts"
export { runSync, type SyncRequest, type SyncSummary } from "../sync/sync.ts"
export {
  type ConnectInput,
  type ConnectResult,
  connect,
  findConnection,
  openCredentials,
  type RetestResult,
  retest,
  view,
} from "../vault/connections.ts"
export { type Rotation, rotateMasterKey } from "../vault/rotation.ts"
export { Keyring, keyringLayer, type MasterKeys } from "../vault/sealing.ts"
export {
  type ConnectionRecord,
  type ConnectionStore,
  Store,
  type StoreConfig,
  storeConfigFromEnv,
  storeLayer,
} from "../vault/store.ts"
export * from "./errors.ts"
