/**
 * sandbox-paging: page a 100,000-record ActivTrak working-hours report through the sandbox (msw
 * handlers behind node:http), against a baseline server that writes the same pages straight from
 * node:http with no msw. Both servers run in child processes; the sandbox's peak RSS is reported.
 *
 *   npm run bench -- sandbox-paging
 */
import { type ChildProcess, spawn } from "node:child_process"
import { compare, memoryOf, report } from "./harness.ts"

const RECORDS = Number(process.env.RECORDS ?? 100_000)
const PAGE_SIZE = 1000
const ROUNDS = Number(process.env.ROUNDS ?? 5)

const startChild = async (args: string[]): Promise<{ child: ChildProcess; url: string }> => {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
  let output = ""
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      const match = /"url": "([^"]+)"/.exec(output) ?? /^listening (\S+)$/m.exec(output)
      if (match?.[1]) resolve(match[1])
    })
    child.once("exit", (code) => reject(new Error(`child exited with ${code}`)))
  })
  return { child, url }
}

const pageAll = async (base: string): Promise<number> => {
  let count = 0
  for (let page = 1; ; page++) {
    const response = await fetch(
      `${base}/reports/v2/workinghours/users?from=2026-01-01&to=2026-03-31&page=${page}&pageSize=${PAGE_SIZE}`,
      { headers: { "x-api-key": `sandbox-records-${RECORDS}` } },
    )
    const body = (await response.json()) as { activity: unknown[] }
    if (body.activity.length === 0) return count
    count += body.activity.length
  }
}

const keyway = new URL("../bin/keyway.js", import.meta.url).pathname
const baselineServer = new URL("./support/plain-paging-server.ts", import.meta.url).pathname
const sandbox = await startChild([keyway, "sandbox", "--json"])
const plain = await startChild(["--import", "tsx", baselineServer])
try {
  const stats = await compare(
    [
      { name: "sandbox (msw handlers)", run: () => pageAll(`${sandbox.url}/activtrak`) },
      { name: "plain node:http", run: () => pageAll(plain.url) },
    ],
    { rounds: ROUNDS, warmup: 1 },
  )
  report("sandbox-paging", stats, {
    records: RECORDS,
    pageSize: PAGE_SIZE,
    sandboxPeakRssMb: Math.round(memoryOf(sandbox.child.pid as number).hwmMb),
  })
} finally {
  sandbox.child.kill()
  plain.child.kill()
}
