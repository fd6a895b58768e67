/**
 * KEYWAY_HOME: where the SQLite store and the key files live. Keyway never follows a symbolic link
 * there: a planted link could point the store, or the current key, anywhere.
 */
import { chmodSync, lstatSync, mkdirSync } from "node:fs"

/** The home, created owner-only (0700) when it is not there. */
export const ensureHome = (home: string): void => {
  mkdirSync(home, { recursive: true, mode: 0o700 })
  chmodSync(home, 0o700)
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
