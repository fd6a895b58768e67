// Where a V8 CPU profile's time went (`node --cpu-prof`), by package or source folder, as microseconds per
// check: node bench/support/profile-summary.mjs <file.cpuprofile> [checks]
import { readFileSync } from "node:fs"

const [file, checks = "1"] = process.argv.slice(2)
const profile = JSON.parse(readFileSync(file, "utf8"))
const interval = (profile.endTime - profile.startTime) / profile.samples.length
const hits = new Map(profile.samples.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map()))

const bucketOf = ({ url, functionName }) => {
  if (!url) return functionName.startsWith("(") ? functionName : `(native) ${functionName}`
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?:dist\/[^/]+\/)?(.*)/)
  if (pkg) return pkg[1] === "effect" ? `effect/${pkg[2].split("/").pop()}` : pkg[1]
  if (url.startsWith("node:")) return url
  return `keyway ${functionName || "(anonymous)"}`
}
const byBucket = new Map()
for (const node of profile.nodes) {
  const us = (hits.get(node.id) ?? 0) * interval
  if (us === 0) continue
  const bucket = bucketOf(node.callFrame)
  byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + us)
}
const total = [...byBucket.values()].reduce((a, b) => a + b, 0)
const n = Number(checks)
console.log(`${file}: ${(total / n).toFixed(1)} µs sampled per check over ${n} checks`)
for (const [bucket, us] of [...byBucket].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
  console.log(`${(us / n).toFixed(1).padStart(8)} µs  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${bucket}`)
}
