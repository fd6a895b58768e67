/**
 * The target that measures the framework, not the fake: plain node:http answering each path with a
 * fixed JSON body, in this (the coordinating) process, while the contenders run in their own. Answers
 * are either one fixed body for every path, or bodies recorded once from the sandbox's fakes, so each
 * connector's check still sees the answer its test request expects.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"

export interface Answer {
  readonly status: number
  readonly body: string
}

export const startMinimalServer = async (
  answers: ReadonlyMap<string, Answer> = new Map(),
  fallback: Answer = { status: 200, body: JSON.stringify({ activity: [], total: 0 }) },
): Promise<{ readonly origin: string; readonly close: () => Promise<void>; readonly server: Server }> => {
  const server = createServer((request, response) => {
    const answer = answers.get((request.url ?? "/").split("?")[0] as string) ?? fallback
    response.writeHead(answer.status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(answer.body),
    })
    response.end(answer.body)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
