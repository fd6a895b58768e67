// The floor under any HTTP layer for bench/serve-save-and-test.ts: plain node:http, one route, no
// auth, no limits, no idempotency, the library's `connect` inside. What the API costs beyond the
// library, this costs too (a server process, a second socket write, the client's round trip); the
// API's goal can be no nearer than this on the same machine.
//   node plain-serve.mjs <sandboxUrl> <home>   prints {"url": ...} once listening
import { createServer } from "node:http"
import { createKeyway } from "../../dist/library/index.js"

const [sandboxUrl, home] = process.argv.slice(2)
const keyway = createKeyway({ sandboxUrl, store: { home, url: undefined, workspace: "bench" }, env: {} })

const server = createServer((request, response) => {
  const chunks = []
  request.on("data", (chunk) => chunks.push(chunk))
  request.on("end", async () => {
    const { connector, credentials } = JSON.parse(Buffer.concat(chunks).toString("utf8"))
    const { saved, connection, result } = await keyway.connect({ connectorId: connector, credentials })
    const text = JSON.stringify({ connection, result })
    response.writeHead(saved ? 201 : 422, { "content-type": "application/json" })
    response.end(text)
  })
})
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })))
process.once("SIGTERM", () => {
  server.close()
  keyway.close().then(() => process.exit(0))
})
