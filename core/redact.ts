/**
 * The one redaction path. Secrets travel as Effect `Redacted` values, which print as `<redacted>`;
 * wherever text that came from outside (a vendor's error body, an exception) is shown, it passes
 * through `redactText` first, and only a fingerprint of a secret is ever shown.
 */
import * as Redacted from "effect/Redacted"
import { hasControlCharacter } from "./fields.ts"

/**
 * A credential as callers may give it: plain text from a library caller, or already `Redacted` where
 * Keyway itself takes it in (a prompt, standard input, an unsealed record).
 */
export type Secret = string | Redacted.Redacted<string>

/** The value inside, for the few places that need it: a format check, a header, a hash, a seal. */
export const reveal = (secret: Secret): string => (typeof secret === "string" ? secret : Redacted.value(secret))

/** A secret as an opaque value that prints as `<redacted>`. */
export const conceal = (secret: Secret): Redacted.Redacted<string> =>
  typeof secret === "string" ? Redacted.make(secret) : secret

/** The last 4 characters, e.g. `…a1b2`. Shorter secrets show nothing of themselves. */
export const fingerprint = (secret: string): string => (secret.length >= 8 ? `…${secret.slice(-4)}` : "…")

/** Every occurrence of each secret (as is, URL-encoded, or base64) becomes `[redacted …abcd]`. */
export const redactText = (text: string, secrets: ReadonlyArray<Redacted.Redacted<string>>): string => {
  let result = text
  for (const redacted of secrets) {
    const secret = Redacted.value(redacted)
    if (secret.length < 4) continue
    const replacement = `[redacted ${fingerprint(secret)}]`
    for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")])) {
      result = result.split(form).join(replacement)
    }
  }
  return result
}

/** Vendor text for display: secrets redacted, control characters gone, at most `max` characters. */
export const cleanVendorText = (text: string, secrets: ReadonlyArray<Redacted.Redacted<string>>, max = 300): string => {
  const printable = [...redactText(text, secrets)]
    .map((character) => (hasControlCharacter(character) ? " " : character))
    .join("")
    .replace(/ {2,}/g, " ")
    .trim()
  return printable.length > max ? `${printable.slice(0, max - 1)}…` : printable
}
