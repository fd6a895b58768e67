/** mute-stream 3 ships no types: the part Keyway uses. */
declare module "mute-stream" {
  import { Duplex } from "node:stream"
  export default class MuteStream extends Duplex {
    constructor(options?: { replace?: string | undefined; prompt?: string })
    mute(): void
    unmute(): void
  }
}
