/**
 * A newcomer's first `npx keyway`: npx installs this checkout into its own cache, which runs the
 * prepare script here, in place. It used to rebuild dist/ each time (12 seconds), and a keyway
 * process started meanwhile could not load its chunks: CI's rotate-key kill test failed so, beside
 * the fleet quick start's `npx keyway sandbox`.
 */
import { execFile } from "node:child_process"
import { cpSync, mkdtempSync, statSync, symlinkSync, utimesSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { BUILT } from "../../scripts/dist-freshness.mjs"

const ROOT = new URL("../../", import.meta.url).pathname

describe("a first npx keyway, with npm's cache empty", () => {
  it("keeps a current dist/, and runs the command", async () => {
    // A copy of the checkout, so that whatever npx does, this run's own dist/ is never touched.
    const copy = mkdtempSync(join(tmpdir(), "keyway-npx-"))
    for (const entry of ["bin", "core", "runner", "fixtures", "connectors", "scripts", "dist"]) {
      cpSync(join(ROOT, entry), join(copy, entry), { recursive: true, preserveTimestamps: true })
    }
    for (const file of ["package.json", "package-lock.json", "tsconfig.json"]) {
      cpSync(join(ROOT, file), join(copy, file), { preserveTimestamps: true })
    }
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"))
    // Current by construction: every output newer than every input.
    const later = new Date(Date.now() + 60_000)
    for (const output of BUILT) utimesSync(join(copy, output), later, later)
    const before = BUILT.map((output) => statSync(join(copy, output)).mtimeMs)

    const home = mkdtempSync(join(tmpdir(), "keyway-npx-home-"))
    const env: Record<string, string | undefined> = {
      ...process.env,
      HOME: home,
      npm_config_cache: join(home, ".npm"),
      // npm reaches for the registry to say a newer npm exists; nothing here may leave loopback.
      npm_config_update_notifier: "false",
      npm_config_offline: "true",
    }
    for (const name of Object.keys(env))
      if (name.startsWith("npm_") && !name.startsWith("npm_config_")) delete env[name]
    const { stdout } = await promisify(execFile)("npx", ["keyway", "connectors", "--json"], { cwd: copy, env })
    expect((JSON.parse(stdout) as Array<{ id: string }>).map((c) => c.id)).toContain("activtrak")
    expect(BUILT.map((output) => statSync(join(copy, output)).mtimeMs)).toEqual(before)
  }, 120_000)
})
