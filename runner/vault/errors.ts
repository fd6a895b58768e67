/**
 * The vault's typed errors, in a module of their own: the CLI maps them to exit codes at start-up,
 * and importing the store itself would load its database drivers for every command.
 */
import * as Data from "effect/Data"

export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{
  readonly backend: "sqlite" | "redis" | "postgres"
  readonly detail: string
}> {
  override get message(): string {
    const name = { redis: "Redis", postgres: "PostgreSQL", sqlite: "SQLite" }[this.backend]
    return `the ${name} credential store is unavailable: ${this.detail}`
  }
}

/** The store cannot be used as configured: the user must change something (exit 2), not wait. */
export class StoreMisconfigured extends Data.TaggedError("StoreMisconfigured")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/** Another process holds a lock this one needs: try again when it has finished (exit 4). */
export class LockHeld extends Data.TaggedError("LockHeld")<{ readonly name: string; readonly holder: string }> {
  override get message(): string {
    return `another ${this.name} is running (${this.holder}); try again when it has finished`
  }
}

/** A stored record is damaged (not JSON, or missing what a record has): it is named, never used. */
export class RecordUnreadable extends Data.TaggedError("RecordUnreadable")<{
  readonly id: string
  readonly problem: string
}> {
  override get message(): string {
    return `the stored record ${this.id} is damaged (${this.problem}); remove it with npx keyway connections remove ${this.id}, then connect again`
  }
}

/** Whatever a store operation can fail with. */
export type StoreError = StoreUnavailable | StoreMisconfigured | RecordUnreadable

export class MasterKeyProblem extends Data.TaggedError("MasterKeyProblem")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

const UNSEAL_MESSAGES = {
  unknown_key: (kid: string) =>
    `the record was sealed with master key ${kid}, which is not available; set KEYWAY_PREVIOUS_MASTER_KEYS`,
  tampered: () =>
    "the sealed credentials failed authentication: the record was altered (its connector or settings), or moved from another record; connect again",
  misplaced: () =>
    "the record says it belongs to another workspace or id than where it was read: it was copied or moved, so its credentials are not used; connect again",
} as const

export class UnsealFailed extends Data.TaggedError("UnsealFailed")<{
  readonly reason: "unknown_key" | "tampered" | "misplaced"
  readonly kid: string
}> {
  override get message(): string {
    return UNSEAL_MESSAGES[this.reason](this.kid)
  }
}

export class ConnectionNotFound extends Data.TaggedError("ConnectionNotFound")<{ readonly id: string }> {
  override get message(): string {
    return `no connection "${this.id}" in this workspace; run keyway connections to list them`
  }
}
