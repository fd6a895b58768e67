/**
 * Expected failures, each as lines to print and a documented exit code. Anything not here is a bug.
 *
 * Errors are told apart by their `_tag`, not by `instanceof`: importing their classes here would load
 * the store, the transport and their drivers on every start, even for `keyway --help`.
 */
import type { InvalidInput } from "../http/request.ts"
import type { SyncFailed } from "../sync/sync.ts"
import { EXIT, exitCodeForOutcome } from "./exit-codes.ts"

export interface ExpectedFailure {
  readonly code: number
  readonly kind: string
  readonly lines: ReadonlyArray<string>
}

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

export const expectedFailure = (error: unknown): ExpectedFailure | undefined => {
  const message = error instanceof Error ? error.message : String(error)
  switch (tagOf(error)) {
    case "UsageError":
      return { code: EXIT.badInput, kind: "usage", lines: [message] }
    case "InvalidInput":
      return {
        code: EXIT.badInput,
        kind: "invalid_input",
        lines: (error as InvalidInput).problems.map((p) => `${p.field} ${p.message}`),
      }
    case "ConnectionNotFound":
      return { code: EXIT.badInput, kind: "not_found", lines: [message] }
    case "StoreUnavailable":
      return { code: EXIT.tryLater, kind: "store_unavailable", lines: [message] }
    case "UnsealFailed":
    case "MasterKeyProblem":
      return { code: EXIT.badInput, kind: "master_key", lines: [message] }
    case "SyncFailed": {
      const failed = error as SyncFailed
      return {
        code: exitCodeForOutcome(failed.outcome),
        kind: failed.outcome,
        lines: [
          `sync stopped: ${failed.outcome}: ${failed.message}`,
          `What to do: ${failed.remediation}`,
          `Then resume with: ${failed.resume}`,
        ],
      }
    }
  }
  return undefined
}
