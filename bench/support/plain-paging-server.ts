/**
 * The baseline for sandbox-paging: the same generated working-hours pages, written straight from
 * node:http, with no msw and no scenario handling.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** A JSON array of `count` generated records, built without holding them as objects. */
const jsonArray = (count: number, record: (index: number) => unknown): string => {
  const parts: string[] = []
  for (let index = 0; index < count; index++) parts.push(JSON.stringify(record(index)))
  return `[${parts.join(",")}]`
}

const SEED = 20261124
const record = (i: number) => ({
  date: "2026-01-01",
  userId: (i % 40) + 1,
  user: `User ${i % 40}`,
  computerId: 1000 + (i % 45),
  computer: `LAPTOP-${1000 + (i % 45)}`,
  groups: ["Sales"],
  firstActivity: "2026-01-01T08:00:00.000Z",
  lastActivity: "2026-01-01T16:00:00.000Z",
  activeTime: { productive: SEED % 20000, unproductive: 300, undefined: 200, total: (SEED % 20000) + 500 },
  passiveTime: { productive: 0, unproductive: 0, undefined: 100, total: 100 },
  totalTime: (SEED % 20000) + 600,
  location: "office",
})

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x")
  const total = Number(/^sandbox-records-(\d+)$/.exec(String(req.headers["x-api-key"]))?.[1] ?? 0)
  const page = Number(url.searchParams.get("page") ?? 1)
  const pageSize = Number(url.searchParams.get("pageSize") ?? 150)
  const first = (page - 1) * pageSize
  const count = Math.max(0, Math.min(pageSize, total - first))
  res.writeHead(200, { "Content-Type": "application/json" })
  res.end(`{"activity":${jsonArray(count, (i) => record(first + i))},"total":${total}}`)
})
server.listen(0, "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
