/**
 * The layout's promises, as the README's design section states them: `core/` is pure (no file,
 * network or process I/O), and only the sandbox (and the tests) use the vendor fakes in `fixtures/`.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const ROOT = new URL("../", import.meta.url).pathname
const tracked = (...dirs: string[]): string[] =>
  execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", ...dirs], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .trim()
    .split("\n")
    .filter((file) => /\.(ts|js|mjs)$/.test(file))

/** Every module a file imports, statically or dynamically. */
const importsOf = (file: string): string[] =>
  [...readFileSync(`${ROOT}${file}`, "utf8").matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map(
    (match) => match[1] as string,
  )

const IO_MODULES = /^(node:)?(fs|fs\/promises|net|http|https|http2|dns|dns\/promises|child_process|dgram|tls)$|^undici$/

describe("the layout", () => {
  it("core/ imports no file, network or process I/O module", () => {
    const offenders = tracked("core").flatMap((file) =>
      importsOf(file)
        .filter((module) => IO_MODULES.test(module))
        .map((module) => `${file} imports ${module}`),
    )
    expect(offenders).toEqual([])
  })

  it("only runner/sandbox/ and the tests import fixtures/", () => {
    const offenders = tracked("core", "runner", "bench", "bin", "scripts")
      .filter((file) => !file.startsWith("runner/sandbox/"))
      .flatMap((file) =>
        importsOf(file)
          .filter((module) => module.startsWith(".") && /(^|\/)fixtures\//.test(module))
          .map((module) => `${file} imports ${module}`),
      )
    expect(offenders).toEqual([])
  })
})
