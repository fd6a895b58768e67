/**
 * A copy of the project's connectors in which ActivTrak states a limit for all keys together
 * (`rateLimit.perHost`), as an onboarding engineer who knows their plan's limit would write it.
 * Processes read it through `KEYWAY_CONNECTORS`.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CONNECTORS_DIR } from "../../runner/catalog/catalog.ts"

export const connectorsWithHostLimit = (requests: number, seconds = 1): string => {
  const dir = mkdtempSync(join(tmpdir(), "keyway-connectors-"))
  cpSync(CONNECTORS_DIR, dir, { recursive: true })
  const file = join(dir, "activtrak.yaml")
  const text = readFileSync(file, "utf8")
  if (!text.includes("\nrateLimit:\n")) throw new Error("activtrak.yaml has no rateLimit block to extend")
  writeFileSync(
    file,
    text.replace("\nrateLimit:\n", `\nrateLimit:\n  perHost: { requests: ${requests}, seconds: ${seconds} }\n`),
  )
  return dir
}
