/**
 * The one redaction path. Secrets travel as Effect `Redacted` values, which print as `<redacted>`;
 * wherever text that came from outside (a vendor's error body, an exception) is shown or stored, it
 * passes through `redactText` first, and only a fingerprint of a secret is ever shown.
 *
 * Vendors echo keys in many ways, so matching is broad on purpose (redacting too much is harmless):
 * - invisible characters (controls, zero-width, bidi marks) are removed first, so a key split by a
 *   NUL or a zero-width space is whole again before it is looked for;
 * - letters are compared without case;
 * - any run of the secret at least `windowFor` characters long counts, so an echo that lost or
 *   changed a character or two is still caught;
 * - the secret's encodings count too: URL-encoded, hex, and base64 at each of the three alignments
 *   a prefix (the `user:` of a Basic pair) can give it.
 */
import * as Redacted from "effect/Redacted"

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

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/g

/** ASCII case folding: it keeps every index where it was, unlike full Unicode lower-casing. */
const fold = (text: string): string => text.replace(/[A-Z]/g, (letter) => letter.toLowerCase())

/** The shortest run of a secret (or of one of its encodings) that counts as an echo of it. */
const windowFor = (length: number): number => Math.min(length, Math.max(6, Math.ceil(length * 0.6)))

/** base64 of the secret after a prefix of 0, 1 and 2 bytes, less the characters the prefix or what follows touch. */
const base64Forms = (secret: string): string[] =>
  [0, 1, 2].flatMap((shift) => {
    const encoded = Buffer.from(`${"\u0000".repeat(shift)}${secret}`).toString("base64")
    const core = encoded.slice(shift === 0 ? 0 : 4, -4)
    return [core, core.replace(/\+/g, "-").replace(/\//g, "_")]
  })

/** Every way a secret may stand in a vendor's text, folded. */
const formsOf = (secret: string): string[] =>
  [
    secret,
    encodeURIComponent(secret),
    Buffer.from(secret).toString("hex"),
    ...(secret.length >= 6 ? base64Forms(secret) : []),
  ]
    .map(fold)
    .filter((form) => form.length >= 4)

/** Text from outside, with every echo of every secret replaced by `[redacted …abcd]`. */
export const redactText = (text: string, secrets: ReadonlyArray<Secret>): string => {
  const visible = text.replace(INVISIBLE, "")
  const folded = fold(visible)
  // For each character, the secret (by index, plus one) whose echo covers it.
  const covered = new Int32Array(visible.length)
  secrets.forEach((secret, index) => {
    const value = reveal(secret)
    if (value.length < 4) return
    for (const form of formsOf(value)) {
      const size = windowFor(form.length)
      const runs = new Set<string>()
      for (let at = 0; at + size <= form.length; at++) runs.add(form.slice(at, at + size))
      for (let at = 0; at + size <= folded.length; at++) {
        if (runs.has(folded.slice(at, at + size))) covered.fill(index + 1, at, at + size)
      }
    }
  })
  let shown = ""
  for (let at = 0; at < visible.length; ) {
    const which = covered[at] ?? 0
    if (which === 0) {
      shown += visible[at]
      at++
      continue
    }
    while (at < visible.length && covered[at] !== 0) at++
    shown += `[redacted ${fingerprint(reveal(secrets[which - 1] as Secret))}]`
  }
  return shown
}

/** How much of a vendor's text is read at all: the rest is never shown, so it is never searched. */
const MAX_VENDOR_TEXT = 4096

/** Vendor text for display: secrets redacted, invisible characters gone, at most `max` characters. */
export const cleanVendorText = (text: string, secrets: ReadonlyArray<Secret>, max = 300): string => {
  const printable = redactText(text.slice(0, MAX_VENDOR_TEXT), secrets).replace(/ {2,}/g, " ").trim()
  return printable.length > max ? `${printable.slice(0, max - 1)}…` : printable
}
