/**
 * A webhook endpoint's signing secret: rotated with `keyway webhooks rotate`, deliveries carry two
 * signatures (the new secret's and the old one's) until the old one's overlap ends, as Standard
 * Webhooks describes; and a master-key rotation (`keyway rotate-key`) re-seals endpoint secrets like
 * credentials, so an endpoint never stops delivering because the key that sealed its secret retired.
 */
import { mkdtempSync } from "node:fs"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { verifyWebhook } from "../core/webhook-signature.ts"
import { deliver } from "../runner/fleet/webhooks.ts"
import { openServiceState } from "../runner/server/state.ts"
import { loadKeyring } from "../runner/vault/sealing.ts"
import { cli } from "./support/cli.ts"

const received: Array<{ headers: IncomingHttpHeaders; body: string }> = []
const receiver = createServer((request, response) => {
  let body = ""
  request.on("data", (chunk: Buffer) => {
    body += chunk.toString()
  })
  request.on("end", () => {
    received.push({ headers: request.headers, body })
    response.writeHead(204).end()
  })
})
let hook: string
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
})
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())))

/** One delivery to the endpoint, as a worker makes it; answers what the receiver got. */
const deliverOnce = async (home: string, endpointId: string) => {
  const before = received.length
  const outcome = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const state = yield* openServiceState({ home, url: undefined, workspace: "default" })
        return yield* Effect.promise(() =>
          deliver(state, loadKeyring(home, {}), {
            workspace: "default",
            endpointId,
            webhookId: `msg_test${before}`,
            event: { type: "sync.finished", timestamp: new Date().toISOString(), data: { records: 1 } },
          }),
        )
      }),
    ),
  )
  const delivery = received[before]
  return { outcome, delivery }
}

const json = async (args: string[], env: Record<string, string>) => {
  const run = await cli([...args, "--json"], { env })
  expect(run.code, run.stderr).toBe(0)
  return JSON.parse(run.stdout)
}

describe("a webhook endpoint's signing secret", () => {
  it("rotated: two signatures while the old secret overlaps, one after; the secret is never listed", async () => {
    const env = { KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-webhook-secrets-")) }
    const added = await json(["webhooks", "add", hook], env)
    const rotated = await json(["webhooks", "rotate", added.id, "--overlap", "1h"], env)
    expect(rotated.secret).toMatch(/^whsec_/)
    expect(rotated.secret).not.toBe(added.secret)
    expect(Date.parse(rotated.previousValidUntil) - Date.now()).toBeGreaterThan(59 * 60_000)

    const during = await deliverOnce(env.KEYWAY_HOME, added.id)
    expect(during.outcome).toBe("delivered: 204")
    const { headers, body } = during.delivery as { headers: IncomingHttpHeaders; body: string }
    expect(String(headers["webhook-signature"]).split(" ")).toHaveLength(2)
    expect(verifyWebhook(rotated.secret, headers, body)).toBe(true)
    expect(verifyWebhook(added.secret, headers, body)).toBe(true)

    const listed = await cli(["webhooks", "list"], { env })
    expect(listed.stdout).toContain("rotating")
    for (const secret of [added.secret, rotated.secret]) expect(listed.stdout).not.toContain(secret)

    // A rotation with no overlap retires the previous secret at once.
    const again = await json(["webhooks", "rotate", added.id, "--overlap", "0"], env)
    const after = await deliverOnce(env.KEYWAY_HOME, added.id)
    const signed = after.delivery as { headers: IncomingHttpHeaders; body: string }
    expect(String(signed.headers["webhook-signature"]).split(" ")).toHaveLength(1)
    expect(verifyWebhook(again.secret, signed.headers, signed.body)).toBe(true)
    expect(verifyWebhook(rotated.secret, signed.headers, signed.body)).toBe(false)
  })

  it("an unknown endpoint or a bad overlap is refused with a clear message", async () => {
    const env = { KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-webhook-secrets-")) }
    const unknown = await cli(["webhooks", "rotate", "whe_nope"], { env })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("whe_nope")
    const added = await json(["webhooks", "add", hook], env)
    const bad = await cli(["webhooks", "rotate", added.id, "--overlap", "soon"], { env })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--overlap")
  })

  it("survives a master-key rotation: rotate-key re-seals it, and the endpoint still delivers, signed with it", async () => {
    const env = { KEYWAY_HOME: mkdtempSync(join(tmpdir(), "keyway-webhook-secrets-")) }
    const added = await json(["webhooks", "add", hook], env)
    const rotation = await cli(["rotate-key"], { env })
    expect(rotation.code, rotation.stderr).toBe(0)
    const { outcome, delivery } = await deliverOnce(env.KEYWAY_HOME, added.id)
    expect(outcome).toBe("delivered: 204")
    expect(verifyWebhook(added.secret, delivery?.headers ?? {}, delivery?.body ?? "")).toBe(true)
  })
})
