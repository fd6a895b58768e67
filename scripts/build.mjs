// Bundles the CLI into dist/ (run by `npm install` through the prepare script), so `keyway` starts
// without compiling TypeScript in-process. effect and yaml are bundled (tree-shaken): loading their
// hundreds of ESM files one by one was most of the start-up time. Packages with native code or their
// own runtime setup stay external, loaded from node_modules. Each command stays a lazy chunk. bin/keyway.js falls back to the TypeScript
// sources (through tsx) whenever dist/ is missing or older than them.
import { build } from "esbuild"

await build({
  entryPoints: { main: "runner/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["sqlite3", "@keyv/sqlite", "@keyv/redis", "keyv", "msw", "undici", "read", "tsx", "axios", "axios-retry"],
  sourcemap: "linked",
  // yaml is CommonJS and requires node built-ins; an ESM bundle needs a real `require` for that.
  banner: {
    js: "import { createRequire as __keywayRequire } from 'node:module'; const require = __keywayRequire(import.meta.url);",
  },
  logLevel: "warning",
})
