// The resolve hook test/support/load-log.mjs registers (it runs on the loader's own thread).
import { appendFileSync } from "node:fs"

export const resolve = async (specifier, context, next) => {
  const resolved = await next(specifier, context)
  if (process.env.LOAD_LOG) appendFileSync(process.env.LOAD_LOG, `${resolved.url}\n`)
  return resolved
}
