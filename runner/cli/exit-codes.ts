/**
 * Documented exit codes (README, "Exit codes"). They follow the outcome's actor, so scripts can tell
 * "fix your key" from "try again later".
 */
import type { Actor, Verdict } from "../../core/outcomes.ts"

export const EXIT = {
  ok: 0,
  /** A bug in Keyway: the message says what to report. */
  bug: 1,
  /** Bad input: wrong arguments, an invalid definition, a malformed credential. */
  badInput: 2,
  /** The customer must act: credentials rejected or expired, plan, permissions, IP, base URL. */
  userMustAct: 3,
  /** Temporarily unavailable: rate limited, timeout, unreachable, server error. Try again later. */
  tryLater: 4,
  /** The vendor answered in a way Keyway does not recognise. */
  unexpectedResponse: 5,
  /** Nothing was verified: the connector has no test request. */
  notVerified: 6,
} as const

const BY_ACTOR: { readonly [A in Actor]: number } = {
  none: EXIT.ok,
  user: EXIT.userMustAct,
  retry: EXIT.tryLater,
  vendor: EXIT.unexpectedResponse,
}

export const exitCodeFor = (verdict: Pick<Verdict, "actor" | "outcome">): number =>
  verdict.outcome === "not_tested" ? EXIT.notVerified : BY_ACTOR[verdict.actor]

/** The most serious of several exit codes: bad input, then user, then vendor, then retry. */
export const worstExitCode = (codes: ReadonlyArray<number>): number => {
  const rank: ReadonlyArray<number> = [
    EXIT.ok,
    EXIT.notVerified,
    EXIT.tryLater,
    EXIT.unexpectedResponse,
    EXIT.userMustAct,
    EXIT.badInput,
    EXIT.bug,
  ]
  return codes.reduce((worst, code) => (rank.indexOf(code) > rank.indexOf(worst) ? code : worst), EXIT.ok)
}
