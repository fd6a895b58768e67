/**
 * The sandbox as a service. When it is in context, every request goes to its loopback fakes instead
 * of the vendors (`--sandbox`); when it is not, nothing changes. This module is light on purpose: the
 * fakes themselves load only with `sandbox-layer.ts`.
 */
import * as Context from "effect/Context"

export interface SandboxTarget {
  /** `http://127.0.0.1:<port>`: loopback only; each vendor lives under `/<connector-id>`. */
  readonly url: string
}

export class Sandbox extends Context.Tag("keyway/Sandbox")<Sandbox, SandboxTarget>() {}
