/**
 * Where synced records go. A sink takes a page at a time and resolves once the page is handed to
 * the OS, which is the backpressure the sync waits on. The default output is NDJSON: one line per
 * record, `{"stream": "...", "record": {...}}`.
 *
 * A file is written under a temporary name (`<out>.<random>.partial`) and renamed on completion, so
 * a crash never leaves a half-file that looks complete. That name is unpredictable, and the file is
 * created exclusively and never through a link, so nothing planted beforehand can redirect the
 * write. The checkpoint records it: on resume the same file is cut back to its size at the last
 * checkpoint, so no record is written twice.
 */
import { randomBytes } from "node:crypto"
import { constants } from "node:fs"
import { type FileHandle, open, rename, stat } from "node:fs/promises"
import type { Writable } from "node:stream"
import * as Data from "effect/Data"
import { fileProblem } from "../../core/file-errors.ts"

/** The output could not be opened or written: the disk, the path or its permissions are the user's to fix. */
export class OutputFailed extends Data.TaggedError("OutputFailed")<{
  readonly out: string
  readonly detail: string
  /** How to carry on once fixed, when part of the sync is already written. */
  readonly resume?: string
}> {
  override get message(): string {
    return `cannot write ${this.out}: ${this.detail}`
  }
}

/** An I/O error in words a user can act on, without a stack. */
export const describeIoError = (error: unknown): string =>
  error instanceof OutputFailed ? error.detail : fileProblem(error)

/** Why `path` cannot be an output, or undefined when it can. */
export const outputProblem = async (path: string): Promise<string | undefined> => {
  const found = await stat(path).catch(() => undefined)
  return found?.isDirectory() ? "is a folder; name a file to write" : undefined
}

/** Runs an I/O step of the sink at `path`, turning its failure into an OutputFailed. */
const io = <A>(path: string, step: () => Promise<A>): Promise<A> =>
  step().catch((error: unknown) => {
    throw error instanceof OutputFailed ? error : new OutputFailed({ out: path, detail: describeIoError(error) })
  })

export interface Sink {
  /** One page's records, each already JSON (the sync serializes a record once, for its hash and here). */
  readonly write: (stream: string, records: ReadonlyArray<string>) => Promise<void>
  /** Bytes written so far, for a file: saved with each checkpoint. */
  readonly position: () => number | undefined
  /** The file written until the sync completes, for a file: saved with the checkpoint, for a resume. */
  readonly partial: string | undefined
  /** The sync finished: make the output final. */
  readonly commit: () => Promise<void>
  /** The sync stopped: keep what was written for a resume. */
  readonly abort: () => Promise<void>
  readonly describe: string
}

const ndjson = (stream: string, records: ReadonlyArray<string>): string => {
  const prefix = `{"stream":${JSON.stringify(stream)},"record":`
  let text = ""
  for (const record of records) text += `${prefix}${record}}\n`
  return text
}

/** Where a resume picks up: the partial file of the interrupted sync, and its size at the last checkpoint. */
export interface ResumeAt {
  readonly at: number
  readonly partial: string | undefined
}

const CREATE_NEW = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW
const REOPEN = constants.O_RDWR | constants.O_NOFOLLOW

/** NDJSON to a file; with `resume`, continues the interrupted sync's partial file from its checkpoint. */
export const fileSink = (path: string, resume?: ResumeAt): Promise<Sink> =>
  io(path, async () => {
    const problem = await outputProblem(path)
    if (problem) throw new OutputFailed({ out: path, detail: problem })
    const device = await stat(path).then(
      (s) => s.isCharacterDevice(),
      () => false,
    )
    // A device such as /dev/null is written directly: it cannot be renamed into, nor be half-written.
    let target = path
    let handle: FileHandle
    let written = 0
    if (device) handle = await open(path, "w")
    else if (resume) {
      if (!resume.partial) {
        throw new OutputFailed({ out: path, detail: "the checkpoint does not name a partial output; sync again" })
      }
      target = resume.partial
      handle = await open(target, REOPEN).catch(() => {
        throw new OutputFailed({ out: path, detail: `the partial output ${target} is missing; sync again` })
      })
      if (!(await handle.stat()).isFile()) {
        throw new OutputFailed({ out: path, detail: `${target} is not a regular file` })
      }
      await handle.truncate(resume.at)
      written = resume.at
    } else {
      target = `${path}.${randomBytes(6).toString("hex")}.partial`
      handle = await open(target, CREATE_NEW, 0o600)
    }
    return {
      describe: path,
      partial: device ? undefined : target,
      write: (stream, records) =>
        io(path, async () => {
          if (records.length === 0) return
          const buffer = Buffer.from(ndjson(stream, records))
          await handle.write(buffer, 0, buffer.length, device ? null : written)
          written += buffer.length
        }),
      position: () => (device ? undefined : written),
      commit: () =>
        io(path, async () => {
          await handle.close()
          // rename replaces whatever is at `path`, a link included, without following it.
          if (!device) await rename(target, path)
        }),
      abort: async () => {
        await handle.close().catch(() => undefined)
      },
    }
  })

/**
 * Completes a move into place that a killed process began: the partial file, when it is still there,
 * becomes the output. Already moved (or written to a stream), there is nothing to do.
 */
export const finishCommit = async (partial: string | undefined, out: string | undefined): Promise<void> => {
  if (!partial || !out) return
  const still = await stat(partial).then(
    (found) => found.isFile(),
    () => false,
  )
  if (still) await io(out, () => rename(partial, out))
}

/** NDJSON to a stream such as stdout, waiting for it to drain. */
export const writableSink = (out: Writable, describe = "stdout"): Sink => ({
  describe,
  partial: undefined,
  write: (stream, records) =>
    new Promise((resolve, reject) => {
      if (records.length === 0) return resolve()
      const ok = out.write(ndjson(stream, records), (error) =>
        error ? reject(new OutputFailed({ out: describe, detail: describeIoError(error) })) : undefined,
      )
      if (ok) resolve()
      else out.once("drain", () => resolve())
    }),
  position: () => undefined,
  commit: async () => {},
  abort: async () => {},
})
