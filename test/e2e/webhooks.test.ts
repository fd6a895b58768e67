/**
 * Webhooks from the fleet, with real Redis and a real worker: a key revoked at the vendor is caught
 * by the scheduled verify and produces one event, signed as Standard Webhooks describes; a receiver
 * that fails twice still gets it, with the same webhook-id on every attempt, and answers 2xx once.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { verifyWebhook } from "../../core/webhook-signature.ts"
import { loadConnectorDirNow } from "../../runner/catalog/load-now.ts"
import { derivedFakeInput } from "../../runner/sandbox/scenarios.ts"
import { startSandbox } from "../../runner/sandbox/server.ts"
import { BIN, keyway } from "../support/cli.ts"
import { findRedisServer, startRedis } from "../support/redis.ts"

const redisBinary = findRedisServer()
const CORPUS = new URL("../corpus/", import.meta.url).pathname
const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) child.kill("SIGKILL")
})

describe.skipIf(!redisBinary)(
  `webhooks${redisBinary ? "" : " (skipped: no redis-server binary; CI installs it)"}`,
  () => {
    it("a revoked key: the scheduled verify emits one connection.verification_failed, delivered once through two failures, correctly signed", async () => {
      const redis = await startRedis(redisBinary as string)
      const definitions = loadConnectorDirNow(CORPUS).flatMap((r) => (r.definition ? [r.definition] : []))
      const sandbox = await startSandbox({ handwritten: false, generic: definitions })
      const received: Array<{ headers: IncomingHttpHeaders; body: string; answered: number }> = []
      const answers = [500, 500]
      const receiver = createServer((request, response) => {
        let body = ""
        request.on("data", (chunk: Buffer) => {
          body += chunk.toString()
        })
        request.on("end", () => {
          const answered = answers.shift() ?? 204
          received.push({ headers: request.headers, body, answered })
          response.writeHead(answered).end()
        })
      })
      await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
      const home = mkdtempSync(join(tmpdir(), "keyway-webhooks-"))
      const env = {
        KEYWAY_HOME: home,
        KEYWAY_REDIS: redis.url,
        KEYWAY_SANDBOX_URL: sandbox.url,
        KEYWAY_CONNECTORS: CORPUS,
        KEYWAY_WEBHOOK_RETRY_SCALE: "0.0002",
      }
      try {
        const github = definitions.find((d) => d.id === "github")
        expect(github).toBeDefined()
        const made = await keyway(["connect", "github", "--sandbox", "--json"], {
          env,
          stdin: JSON.stringify(derivedFakeInput(github as never).credentials),
        })
        const id = JSON.parse(made.stdout).connection.id
        const added = await keyway(["webhooks", "add", hook, "--json"], { env })
        const secret = JSON.parse(added.stdout).secret as string
        expect(secret).toMatch(/^whsec_/)

        const worker = spawn(process.execPath, [BIN, "worker", "--sandbox"], {
          env: { ...process.env, ...env },
          stdio: "ignore",
        })
        children.push(worker)
        // The vendor revokes the key: from now on it answers 401.
        const control = sandbox.generic.github as NonNullable<(typeof sandbox.generic)[string]>
        control.mode = { kind: "status", status: 401 }
        expect((await keyway(["schedule", "verify", "--every", "1h"], { env })).code).toBe(0)

        const deadline = Date.now() + 30_000
        while (!received.some((r) => r.answered < 300) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50))
        // Time for a duplicate to show up, if there were one.
        await new Promise((resolve) => setTimeout(resolve, 1000))

        expect(received.map((r) => r.answered)).toEqual([500, 500, 204])
        expect(new Set(received.map((r) => r.headers["webhook-id"])).size).toBe(1)
        for (const delivery of received)
          expect(verifyWebhook(secret, delivery.headers as never, delivery.body)).toBe(true)
        expect(verifyWebhook(secret, received[0]?.headers as never, `${received[0]?.body} `)).toBe(false)
        const event = JSON.parse(received[0]?.body ?? "{}")
        expect(event).toMatchObject({
          type: "connection.verification_failed",
          data: { connectionId: id, connector: "github" },
        })
        for (const delivery of received) {
          for (const value of Object.values(derivedFakeInput(github as never).credentials))
            expect(delivery.body).not.toContain(value)
        }
      } finally {
        receiver.close()
        await sandbox.stop()
        await redis.stop()
      }
    }, 60_000)
  },
)
