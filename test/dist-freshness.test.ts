/**
 * When `npm install` (and a first `npx keyway`, which runs prepare in place) may keep dist/: only
 * when every output is newer than every input.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { BUILT, distIsFresh } from "../scripts/dist-freshness.mjs"

/** A checkout with its inputs at t=1000 s and its outputs at t=2000 s. */
const checkout = () => {
  const root = mkdtempSync(join(tmpdir(), "keyway-freshness-"))
  const at = (file: string, seconds: number) => {
    const path = join(root, file)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, "x")
    utimesSync(path, seconds, seconds)
  }
  for (const input of ["core/a.ts", "runner/cli/main.ts", "fixtures/f.ts", "connectors/v.yaml", "scripts/build.mjs"]) {
    at(input, 1000)
  }
  for (const file of ["package.json", "package-lock.json", "tsconfig.json", "node_modules/.package-lock.json"]) {
    at(file, 1000)
  }
  for (const output of BUILT) at(output, 2000)
  return { root, at }
}

describe("dist/ is current", () => {
  it("when every output is newer than every input", () => {
    expect(distIsFresh(checkout().root)).toBe(true)
  })

  it("not when a source, a definition, a build script, the lockfile or an install is newer than an output", () => {
    // An install after a pull that changed the dependencies: the bundled copies of effect and yaml are stale.
    const inputs = ["runner/cli/main.ts", "connectors/v.yaml", "scripts/build.mjs", "package-lock.json"]
    for (const input of [...inputs, "node_modules/.package-lock.json"]) {
      const { root, at } = checkout()
      at(input, 3000)
      expect(distIsFresh(root), input).toBe(false)
    }
  })

  it("not when an output is missing, or older than an input (a build cut short)", () => {
    for (const output of BUILT) {
      const missing = checkout()
      rmSync(join(missing.root, output))
      expect(distIsFresh(missing.root), `${output} missing`).toBe(false)
      const stale = checkout()
      stale.at(output, 500)
      expect(distIsFresh(stale.root), `${output} older`).toBe(false)
    }
  })
})
