// Builds dist/ (run by `npm install` through the prepare script, unless dist/ is current):
// - the CLI bundle, dist/main.js: effect and yaml bundled (tree-shaken), since loading their hundreds
//   of ESM files one by one was most of the start-up time; each command stays a lazy chunk;
// - the library, dist/library/*.js for `import ... from "keyway"` (effect and yaml bundled, as in the
//   CLI) and "keyway/effect" (effect external, so an Effect host shares one copy of it with Keyway);
// - its types, dist/types/, emitted from the sources.
// Packages with native code or their own runtime setup stay external, loaded from node_modules.
// bin/keyway.js falls back to the TypeScript sources (through tsx) whenever dist/ is older than them.
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { build } from "esbuild"
import { distIsFresh } from "./dist-freshness.mjs"

// As prepare (`npm install`, a first `npx keyway`), a current dist/ is kept; `npm run build` always builds.
if (process.env.npm_lifecycle_event === "prepare" && distIsFresh(process.cwd())) {
  console.log("dist/ is up to date")
  process.exit(0)
}

const external = ["sqlite3", "@keyv/sqlite", "@keyv/redis", "keyv", "msw", "undici", "tsx", "axios", "axios-retry"]
// yaml is CommonJS and requires node built-ins; an ESM bundle needs a real `require` for that.
const banner = {
  js: "import { createRequire as __keywayRequire } from 'node:module'; const require = __keywayRequire(import.meta.url);",
}
const common = {
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  banner,
  logLevel: "warning",
}

rmSync("dist", { recursive: true, force: true })
await build({ ...common, entryPoints: { main: "runner/cli/main.ts" }, outdir: "dist", external, sourcemap: "linked" })
// The Promise API carries its own tree-shaken copy of effect and yaml: loading Effect's modules
// whole cost a host 24 MB of memory and 350 ms of start-up, and a host that uses Promises never
// sees an Effect value (`keyway.run` takes the host's Effects and runs them: copies of one version
// of effect share their identities). `keyway/effect` keeps effect external, so an Effect host and
// Keyway share one copy.
await build({ ...common, entryPoints: { index: "runner/library/index.ts" }, outdir: "dist/library", external })
await build({
  ...common,
  entryPoints: { effect: "runner/library/effect.ts" },
  outdir: "dist/library",
  external: [...external, "effect", "yaml"],
})

// Declarations for the two entry points. The sources import each other as `./x.ts`; published
// declarations must say `./x.js`, which resolves to the `x.d.ts` beside it.
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "scripts/tsconfig.types.json"], {
  stdio: "inherit",
})
const rewrite = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) rewrite(path)
    else if (name.endsWith(".d.ts")) {
      writeFileSync(path, readFileSync(path, "utf8").replace(/(from\s+["']\.{1,2}\/[^"']+)\.ts(["'])/g, "$1.js$2"))
    }
  }
}
rewrite("dist/types")

// The shipped definitions, loaded once now (runner/catalog/prebuilt.ts): a command that reads them
// looks them up instead of parsing, decoding and linting each cold.
execFileSync(process.execPath, ["--import", "tsx", "scripts/prebuilt-definitions.ts"], { stdio: "inherit" })
