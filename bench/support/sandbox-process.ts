/** The sandbox in its own process, so its CPU does not compete with the client being measured. */
import type { ChildProcess } from "node:child_process"
import { startCliServer } from "./cli-server.mjs"

export const startSandboxProcess = (flags: ReadonlyArray<string> = []): Promise<{ child: ChildProcess; url: string }> =>
  startCliServer(["sandbox", "--json", ...flags])
