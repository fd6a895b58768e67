// Preloaded with `node --import`: on exit, writes this process's peak RSS (in MB) to the file named by
// PEAK_RSS_FILE, so a benchmark can read a command's own peak without wrapping it in another tool.
import { writeFileSync } from "node:fs"

const file = process.env.PEAK_RSS_FILE
if (file) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS / 1024)))
