/** The typed errors both library entries (`keyway`, `keyway/effect`) export, each with a `_tag` to match on. */
export { InvalidInput } from "../../core/fields.ts"
export { DefinitionInvalid, UnknownConnector } from "../catalog/catalog.ts"
export { OutputFailed } from "../sync/sinks.ts"
export { SyncFailed, SyncRequestRejected } from "../sync/sync.ts"
export {
  ConnectionNotFound,
  LockHeld,
  MasterKeyProblem,
  RecordUnreadable,
  type StoreError,
  StoreMisconfigured,
  StoreUnavailable,
  UnsealFailed,
} from "../vault/errors.ts"
