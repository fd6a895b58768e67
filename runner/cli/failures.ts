/**
 * The closed set of failures a command can end in, each as lines to print and a documented exit
 * code. Anything else is a defect: a bug in Keyway. Only types are imported here, so matching on a
 * failure loads none of the modules that raise it.
 */
import type { InvalidInput } from "../../core/fields.ts"
import { formatProblem } from "../../core/problem.ts"
import type { DefinitionInvalid, UnknownConnector } from "../catalog/catalog.ts"
import type { SandboxFailed } from "../sandbox/layer.ts"
import type { OutputFailed } from "../sync/sinks.ts"
import type { SyncFailed, SyncRequestRejected } from "../sync/sync.ts"
import type {
  ConnectionNotFound,
  LockHeld,
  MasterKeyProblem,
  RecordUnreadable,
  StoreMisconfigured,
  StoreUnavailable,
  UnsealFailed,
} from "../vault/errors.ts"
import { EXIT, exitCodeFor } from "./exit-codes.ts"
import type { UsageError } from "./io.ts"

export type CliFailure =
  | UsageError
  | UnknownConnector
  | DefinitionInvalid
  | InvalidInput
  | ConnectionNotFound
  | StoreUnavailable
  | StoreMisconfigured
  | RecordUnreadable
  | LockHeld
  | UnsealFailed
  | MasterKeyProblem
  | SyncFailed
  | SyncRequestRejected
  | OutputFailed
  | SandboxFailed

export interface FailureReport {
  readonly code: number
  readonly kind: string
  readonly lines: ReadonlyArray<string>
}

export const reportFailure = (failure: CliFailure): FailureReport => {
  switch (failure._tag) {
    case "UsageError":
    case "UnknownConnector":
      return { code: EXIT.badInput, kind: "usage", lines: [failure.message] }
    case "DefinitionInvalid":
      return {
        code: EXIT.badInput,
        kind: "invalid_definition",
        lines: [failure.message, ...failure.result.problems.map(formatProblem)],
      }
    case "InvalidInput":
      return {
        code: EXIT.badInput,
        kind: "invalid_input",
        lines: failure.problems.map((p) => `${p.field} ${p.message}`),
      }
    case "ConnectionNotFound":
      return { code: EXIT.badInput, kind: "not_found", lines: [failure.message] }
    case "StoreUnavailable":
      return { code: EXIT.tryLater, kind: "store_unavailable", lines: [failure.message] }
    case "LockHeld":
      return { code: EXIT.tryLater, kind: "busy", lines: [failure.message] }
    case "StoreMisconfigured":
      return { code: EXIT.badInput, kind: "store_misconfigured", lines: [failure.message] }
    case "RecordUnreadable":
      return { code: EXIT.badInput, kind: "record_unreadable", lines: [failure.message] }
    case "UnsealFailed":
    case "MasterKeyProblem":
      return { code: EXIT.badInput, kind: "master_key", lines: [failure.message] }
    case "SandboxFailed":
      return { code: EXIT.badInput, kind: "sandbox", lines: [failure.message] }
    case "OutputFailed":
      return {
        code: EXIT.badInput,
        kind: "output",
        lines: [failure.message, ...(failure.resume ? [`Then resume with: ${failure.resume}`] : [])],
      }
    case "SyncRequestRejected":
      return {
        code: EXIT.badInput,
        kind: "request_rejected",
        lines: [
          `sync stopped: the request was refused: ${failure.message}`,
          `What to do: ${failure.verdict.remediation}`,
        ],
      }
    case "SyncFailed":
      return {
        code: exitCodeFor(failure.verdict),
        kind: failure.verdict.code,
        lines: [
          `sync stopped: ${failure.verdict.outcome}: ${failure.message}`,
          `What to do: ${failure.verdict.remediation}`,
          `Then resume with: ${failure.resume}`,
        ],
      }
  }
}
