/**
 * Where synced records go. A sink takes a page at a time and resolves once the page is handed to
 * the OS, which is the backpressure the sync waits on. The default output is NDJSON: one line per
 * record, `{"stream": "...", "record": {...}}`.
 *
 * A file is written under a temporary name (`<out>.partial`) and renamed on completion, so a crash
 * never leaves a half-file that looks complete. On resume the partial file is cut back to its size
 * at the last checkpoint, so no record is written twice.
 */
import { type FileHandle, open, rename, stat } from "node:fs/promises"
import type { Writable } from "node:stream"

export interface Sink {
  readonly write: (stream: string, records: ReadonlyArray<unknown>) => Promise<void>
  /** Bytes written so far, for a file: saved with each checkpoint. */
  readonly position: () => number | undefined
  /** The sync finished: make the output final. */
  readonly commit: () => Promise<void>
  /** The sync stopped: keep what was written for a resume. */
  readonly abort: () => Promise<void>
  readonly describe: string
}

const ndjson = (stream: string, records: ReadonlyArray<unknown>): string => {
  const prefix = `{"stream":${JSON.stringify(stream)},"record":`
  let text = ""
  for (const record of records) text += `${prefix}${JSON.stringify(record)}}\n`
  return text
}

export const partialPath = (path: string): string => `${path}.partial`

/** NDJSON to a file; `resumeAt` continues a partial file from that byte. */
export const fileSink = async (path: string, resumeAt?: number): Promise<Sink> => {
  const device = await stat(path).then(
    (s) => s.isCharacterDevice(),
    () => false,
  )
  // A device such as /dev/null is written directly: it cannot be renamed into, nor be half-written.
  const target = device ? path : partialPath(path)
  let handle: FileHandle
  let written = 0
  if (!device && resumeAt !== undefined) {
    handle = await open(target, "r+").catch(() => {
      throw new Error(`cannot resume: the partial output ${target} is missing`)
    })
    await handle.truncate(resumeAt)
    written = resumeAt
  } else {
    handle = await open(target, "w", 0o600)
  }
  return {
    describe: path,
    write: async (stream, records) => {
      if (records.length === 0) return
      const buffer = Buffer.from(ndjson(stream, records))
      await handle.write(buffer, 0, buffer.length, device ? null : written)
      written += buffer.length
    },
    position: () => (device ? undefined : written),
    commit: async () => {
      await handle.close()
      if (!device) await rename(target, path)
    },
    abort: async () => {
      await handle.close()
    },
  }
}

/** NDJSON to a stream such as stdout, waiting for it to drain. */
export const writableSink = (out: Writable, describe = "stdout"): Sink => ({
  describe,
  write: (stream, records) =>
    new Promise((resolve, reject) => {
      if (records.length === 0) return resolve()
      const ok = out.write(ndjson(stream, records), (error) => (error ? reject(error) : undefined))
      if (ok) resolve()
      else out.once("drain", () => resolve())
    }),
  position: () => undefined,
  commit: async () => {},
  abort: async () => {},
})
