/** A sync's output that keeps nothing: for tests that check what a sync did, not what it wrote. */
import type { Sink } from "../../runner/sync/sinks.ts"

export const discardSink: Sink = {
  describe: "nowhere",
  partial: undefined,
  write: async () => {},
  position: () => undefined,
  commit: async () => {},
  abort: async () => {},
}
