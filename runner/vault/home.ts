/**
 * KEYWAY_HOME: where the SQLite store and the key files live. Keyway never follows a symbolic link
 * there: a planted link could point the store, or the current key, anywhere.
 */
import { chmodSync, lstatSync, mkdirSync, realpathSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileProblem } from "../../core/file-errors.ts"

/** Kernel file systems: files there are not files, and creating folders under /proc can hang. */
const NOT_FOR_FILES = ["/proc", "/sys", "/dev"]

/** The nearest part of `path` that exists, with links resolved. */
const nearestExisting = (path: string): string => {
  for (let at = resolve(path); ; at = dirname(at)) {
    try {
      return realpathSync(at)
    } catch {
      if (dirname(at) === at) return at
    }
  }
}

/** Why `home` cannot hold Keyway's files, or undefined when it can. */
const homeProblem = (home: string): string | undefined => {
  const existing = nearestExisting(home)
  const kernel = NOT_FOR_FILES.find((root) => existing === root || existing.startsWith(`${root}/`))
  if (kernel) return `KEYWAY_HOME ${home} is under ${kernel}, which holds no files; choose a folder such as ~/.keyway`
  if (existing === resolve(home) && !statSync(existing).isDirectory()) {
    return `KEYWAY_HOME ${home} is not a folder; point it at a folder, or at a path that does not exist yet`
  }
  return undefined
}

/**
 * The home, created owner-only (0700) when it is not there. A home that cannot be one throws
 * `refuse(detail)`: the user must point KEYWAY_HOME elsewhere.
 */
export const ensureHome = (home: string, refuse: (detail: string) => Error): void => {
  const problem = homeProblem(home)
  if (problem) throw refuse(problem)
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 })
    chmodSync(home, 0o700)
  } catch (error) {
    throw refuse(
      `cannot create KEYWAY_HOME ${home}: ${fileProblem(error)}; point KEYWAY_HOME at a folder you may write`,
    )
  }
}

/** Throws `refuse(message)` when `path` is a symbolic link; an absent path is fine. */
export const refuseLink = (path: string, what: string, refuse: (detail: string) => Error): void => {
  let link = false
  try {
    link = lstatSync(path).isSymbolicLink()
  } catch {
    return // absent: nothing to follow
  }
  if (link) {
    throw refuse(`${what} is a symbolic link; Keyway does not follow links out of KEYWAY_HOME. Remove it (${path})`)
  }
}
