/**
 * Standard Webhooks 1.0 signatures (https://www.standardwebhooks.com): `webhook-id`,
 * `webhook-timestamp` and `webhook-signature: v1,<base64>` (space-separated, several while a secret is
 * rotated), an HMAC-SHA256 over `{id}.{timestamp}.{body}` with the endpoint's `whsec_` secret. The
 * library exports `verifyWebhook`, so a host checks a delivery in one call.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"

export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString("base64")}`

const keyOf = (secret: string): Buffer => Buffer.from(secret.replace(/^whsec_/, ""), "base64")

const signature = (secret: string, id: string, timestamp: number, body: string): string =>
  createHmac("sha256", keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest("base64")

/** The three headers of one delivery, signed with every given secret (the new one and, during a rotation, the old). */
export const signWebhook = (input: {
  readonly id: string
  readonly timestamp: number
  readonly body: string
  readonly secrets: ReadonlyArray<string>
}): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> => ({
  "webhook-id": input.id,
  "webhook-timestamp": String(input.timestamp),
  "webhook-signature": input.secrets
    .map((secret) => `v1,${signature(secret, input.id, input.timestamp, input.body)}`)
    .join(" "),
})

/**
 * Whether a delivery is genuine: signed with `secret`, and sent within `toleranceSeconds` of now
 * (an old delivery replayed is refused). `headers` are the request's, any case.
 */
export const verifyWebhook = (
  secret: string,
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  body: string,
  options: { readonly toleranceSeconds?: number; readonly now?: number } = {},
): boolean => {
  const header = (name: string): string | undefined => {
    const found = Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1]
    return Array.isArray(found) ? found.join(" ") : (found as string | undefined)
  }
  const id = header("webhook-id")
  const timestamp = Number(header("webhook-timestamp"))
  const signatures = header("webhook-signature")
  if (!id || !Number.isInteger(timestamp) || !signatures) return false
  const now = Math.floor((options.now ?? Date.now()) / 1000)
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) return false
  const expected = Buffer.from(signature(secret, id, timestamp, body))
  return signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",")
    const given = Buffer.from(value ?? "")
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected)
  })
}
