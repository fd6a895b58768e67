/**
 * Expected failures, each as lines to print and a documented exit code. Anything not here is a bug.
 */
import { InvalidInput } from "../build-request.ts"
import { ConnectionNotFound } from "../connections.ts"
import { MasterKeyProblem, UnsealFailed } from "../sealing.ts"
import { StoreUnavailable } from "../store.ts"
import { SyncFailed } from "../sync.ts"
import { EXIT, exitCodeForOutcome } from "./exit-codes.ts"
import { UsageError } from "./io.ts"

export interface ExpectedFailure {
  readonly code: number
  readonly kind: string
  readonly lines: ReadonlyArray<string>
}

export const expectedFailure = (error: unknown): ExpectedFailure | undefined => {
  if (error instanceof UsageError) return { code: EXIT.badInput, kind: "usage", lines: [error.message] }
  if (error instanceof InvalidInput) {
    return { code: EXIT.badInput, kind: "invalid_input", lines: error.problems.map((p) => `${p.field} ${p.message}`) }
  }
  if (error instanceof ConnectionNotFound) return { code: EXIT.badInput, kind: "not_found", lines: [error.message] }
  if (error instanceof StoreUnavailable)
    return { code: EXIT.tryLater, kind: "store_unavailable", lines: [error.message] }
  if (error instanceof UnsealFailed || error instanceof MasterKeyProblem) {
    return { code: EXIT.badInput, kind: "master_key", lines: [error.message] }
  }
  if (error instanceof SyncFailed) {
    return {
      code: exitCodeForOutcome(error.outcome),
      kind: error.outcome,
      lines: [
        `sync stopped: ${error.outcome}: ${error.message}`,
        `What to do: ${error.remediation}`,
        `Then resume with: ${error.resume}`,
      ],
    }
  }
  return undefined
}
