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
    try {
      const { connector, credentials } = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      const { saved, connection, result } = await keyway.connect({ connectorId: connector, credentials })
      response.writeHead(saved ? 201 : 422, { "content-type": "application/json" })
      response.end(JSON.stringify({ connection, result }))
    } catch (error) {
      // The client fails on anything but 201, so a fault ends the run instead of hanging it.
      response.writeHead(500, { "content-type": "application/json" })
      response.end(JSON.stringify({ error: String(error) }))
    }
  })
})
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })))
process.once("SIGTERM", () => {
  server.close()
  keyway.close().then(() => process.exit(0))
})
