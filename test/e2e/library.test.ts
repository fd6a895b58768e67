/**
 * Keyway as a library, used from another Node program as the README shows: the README's example is
 * copied verbatim into a folder of its own, where `keyway` is an installed dependency, and run with
 * plain `node` against the sandbox. The same code is type-checked as a strict TypeScript consumer,
 * through the package's `exports` and its declarations.
 */
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../../runner/sandbox/server.ts"
import { distIsFresh } from "../../scripts/dist-freshness.mjs"

const ROOT = new URL("../../", import.meta.url).pathname
const run = promisify(execFile)

/** The fenced block that follows `<!-- library-example -->` in the README. */
const readmeExample = (): string => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8")
  const found = /<!-- library-example -->\s*```js\n([\s\S]*?)```/.exec(readme)
  if (!found?.[1]) throw new Error("README.md has no block after <!-- library-example -->")
  return found[1]
}

/** dist/ is built by `npm install`; rebuilt here by the same rule when anything it is built from is newer. */
const ensureBuilt = async () => {
  if (!distIsFresh(ROOT)) await run(process.execPath, ["scripts/build.mjs"], { cwd: ROOT })
}

describe("the library, from another Node program", () => {
  let sandbox: Sandbox
  const app = mkdtempSync(join(tmpdir(), "keyway-app-"))
  beforeAll(async () => {
    await ensureBuilt()
    sandbox = await startSandbox()
    mkdirSync(join(app, "node_modules"))
    symlinkSync(ROOT, join(app, "node_modules", "keyway"))
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "host-app", type: "module", private: true }))
  }, 60_000)
  afterAll(() => sandbox.stop())

  it("runs the README's example as written, with plain node", async () => {
    const example = readmeExample()
    expect(example.split("\n").filter((line) => line.trim() !== "").length).toBeLessThanOrEqual(16)
    writeFileSync(join(app, "check-key.mjs"), example)
    const { stdout } = await run(process.execPath, ["check-key.mjs"], {
      cwd: app,
      env: { ...process.env, KEYWAY_SANDBOX_URL: sandbox.url, KEYWAY_HOME: join(app, ".keyway") },
    })
    expect(stdout).toMatch(/^connected Connected: the vendor accepted the credentials\.\n/)
    expect(stdout).toMatch(/con_[0-9a-f]{16} Acme Corp connected\n$/)
  })

  it("type-checks as a strict TypeScript consumer, through the package's exports", async () => {
    writeFileSync(join(app, "check-key.ts"), readmeExample())
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          noEmit: true,
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules/@types")],
          skipLibCheck: true,
        },
        files: ["check-key.ts"],
      }),
    )
    const checked = await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", app]).then(
      () => ({ code: 0, stdout: "" }),
      (error: { code: number; stdout: string }) => error,
    )
    expect(checked.stdout).toBe("")
    expect(checked.code).toBe(0)
  }, 60_000)
})
