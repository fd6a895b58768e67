/**
 * The one table of file-system failures: each Node error code in words a user can act on. Whoever
 * meets one (the sync's output, KEYWAY_HOME, standard output) adds what to do about it there.
 */

const FILE_PROBLEMS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is used up",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  EISDIR: "it is a folder, not a file",
  ENOTDIR: "a part of the path is a file, not a folder",
  ENOENT: "its folder does not exist",
  EEXIST: "a file of that name appeared meanwhile",
  ELOOP: "it is a symbolic link, which Keyway does not follow",
  EFBIG: "the file is too large for the file system",
  EIO: "the device reported an I/O error",
  EPIPE: "the reader went away",
}

/** A file-system error in words, with its code; never a stack. */
export const fileProblem = (error: unknown): string => {
  const code = (error as { code?: unknown })?.code
  if (typeof code === "string" && FILE_PROBLEMS[code]) return `${FILE_PROBLEMS[code]} (${code})`
  return error instanceof Error ? error.message : String(error)
}
