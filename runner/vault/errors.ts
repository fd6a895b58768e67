/**
 * The vault's typed errors, in a module of their own: the CLI maps them to exit codes at start-up,
 * and importing the store itself would load its database drivers for every command.
 */
import * as Data from "effect/Data"

export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{
  readonly backend: "sqlite" | "redis"
  readonly detail: string
}> {
  override get message(): string {
    return `the ${this.backend === "redis" ? "Redis" : "SQLite"} credential store is unavailable: ${this.detail}`
  }
}

export class MasterKeyProblem extends Data.TaggedError("MasterKeyProblem")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

export class UnsealFailed extends Data.TaggedError("UnsealFailed")<{
  readonly reason: "unknown_key" | "tampered"
  readonly kid: string
}> {
  override get message(): string {
    return this.reason === "unknown_key"
      ? `the record was sealed with master key ${this.kid}, which is not available; set KEYWAY_PREVIOUS_MASTER_KEYS`
      : "the sealed credentials failed authentication: the record was altered or belongs to another record"
  }
}

export class ConnectionNotFound extends Data.TaggedError("ConnectionNotFound")<{ readonly id: string }> {
  override get message(): string {
    return `no connection "${this.id}" in this workspace; run keyway connections to list them`
  }
}
