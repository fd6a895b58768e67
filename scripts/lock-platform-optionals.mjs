// The npm mirror this project installs from carries only Linux builds of packages that ship
// per-platform binaries (biome, esbuild, rollup). `npm install` then leaves the other platforms'
// optional packages out of package-lock.json, and `npm ci` refuses the lock as out of sync.
// This adds each missing optional package as an optional entry limited to its own platform, so
// `npm ci` accepts the lock and skips them. Run it after any `npm install` that changes the lock.
import { readFileSync, writeFileSync } from "node:fs"

const file = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(file, "utf8"))
const OS = ["aix", "android", "darwin", "freebsd", "linux", "netbsd", "openbsd", "openharmony", "sunos", "win32"]
const CPU = ["arm64", "arm", "x64", "ia32", "loong64", "mips64el", "ppc64", "riscv64", "s390x", "wasm32"]

let added = 0
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `${path ? `${path}/` : ""}node_modules/${name}`.replace(
      /^.*?node_modules\/(?=.*node_modules\/)/,
      "node_modules/",
    )
    const hoisted = `node_modules/${name}`
    if (lock.packages[hoisted] || lock.packages[key]) continue
    const parts = name.split("/").pop().split("-")
    const os = parts.find((part) => OS.includes(part))
    const cpu = parts.find((part) => CPU.includes(part))
    lock.packages[hoisted] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
      ...(cpu ? { cpu: [cpu] } : {}),
    }
    added++
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
)
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`added ${added} platform-optional entries to package-lock.json`)
