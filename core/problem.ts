/**
 * A problem in a definition file, as `file:line:col path: message`, and what loading a file gives.
 * Its own small module: the CLI lists prebuilt definitions and prints problems without loading the
 * YAML parser, the definition's Schema or the lint rules (most of a cold start).
 */
import type { ConnectorDefinition } from "./definition.ts"
import type { Severity } from "./lint.ts"

export interface Problem {
  readonly file: string
  readonly line: number
  readonly col: number
  readonly path: string
  readonly code: string
  readonly severity: Severity
  readonly message: string
}

export const formatProblem = (problem: Problem): string =>
  `${problem.file}:${problem.line}:${problem.col} ${problem.severity === "warning" ? "warning " : ""}${
    problem.path ? `${problem.path}: ` : ""
  }${problem.message}`

export interface LoadResult {
  readonly file: string
  /** Present when the file has no errors (it may still have warnings). */
  readonly definition: ConnectorDefinition | undefined
  readonly problems: ReadonlyArray<Problem>
}

/** No definition needs more: the four vendors' are 4 to 8 KB. A larger file is refused unread. */
export const MAX_DEFINITION_BYTES = 1024 * 1024

export const tooLarge = (file: string): LoadResult => ({
  file,
  definition: undefined,
  problems: [
    {
      file,
      line: 1,
      col: 1,
      path: "",
      code: "too-large",
      severity: "error",
      message: `is larger than 1 MiB; a definition is a few kilobytes, so this is not one`,
    },
  ],
})
