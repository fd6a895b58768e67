/** The sandbox in its own process, so its CPU does not compete with the client being measured. */
import { type ChildProcess, spawn } from "node:child_process"

export const startSandboxProcess = async (
  flags: ReadonlyArray<string> = [],
): Promise<{ child: ChildProcess; url: string }> => {
  const child = spawn(
    process.execPath,
    [new URL("../../bin/keyway.js", import.meta.url).pathname, "sandbox", "--json", ...flags],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  )
  let output = ""
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const match = /"url": "([^"]+)"/.exec(output)
      if (match?.[1]) resolve(match[1])
    })
    child.once("exit", (code) => reject(new Error(`the sandbox exited with ${code}`)))
  })
  return { child, url }
}
