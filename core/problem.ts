/**
 * A problem in a definition file, as `file:line:col path: message`. Its own small module: the CLI
 * prints problems without loading the YAML parser.
 */
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
