/**
 * The catalog: connector definitions read from disk, as a service. The pure work (parsing, decoding,
 * lint rules) is in `core/load.ts`; this is the I/O edge. A shipped file, unchanged, is the build's
 * result (`prebuilt.ts`), and `core/load.ts` is imported only for a file that is not: compiling it,
 * yaml and the definition's Schema was a third of a cold `keyway connectors`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { type LoadResult, MAX_DEFINITION_BYTES, tooLarge } from "../../core/problem.ts"
import { prebuilt } from "./prebuilt.ts"

/**
 * The project's root: the nearest folder above this module that holds package.json. This module may
 * run from its source or from the bundle in dist/, at different depths.
 */
export const PROJECT_ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
})()

/** The repository's `connectors/` folder, wherever Keyway is run from. */
export const CONNECTORS_DIR = join(PROJECT_ROOT, "connectors/")

/** The folder commands read definitions from: `KEYWAY_CONNECTORS`, or the project's own. */
export const connectorsDir = (env: NodeJS.ProcessEnv): string => env.KEYWAY_CONNECTORS || CONNECTORS_DIR

const displayName = (path: string): string => {
  const shown = relative(process.cwd(), path)
  return shown.startsWith("..") ? path : shown
}

const unreadable = (path: string, message: string): LoadResult => {
  const file = displayName(path)
  return {
    file,
    definition: undefined,
    problems: [{ file, line: 1, col: 1, path: "", code: "unreadable", severity: "error", message }],
  }
}

/**
 * One connector file's result when it needs no parsing (refused unread as not a regular file or over
 * the size limit, or prebuilt), otherwise its text to parse.
 */
export const readConnectorFile = (path: string): LoadResult | { readonly file: string; readonly text: string } => {
  let text: string
  try {
    const stats = statSync(path)
    if (!stats.isFile()) return unreadable(path, "is not a regular file")
    if (stats.size > MAX_DEFINITION_BYTES) return tooLarge(displayName(path))
    text = readFileSync(path, "utf8")
  } catch (error) {
    return unreadable(path, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`)
  }
  const file = displayName(path)
  return prebuilt(file, text) ?? { file, text }
}

/** One connector file, loaded; `core/load.ts` is imported only when the file must be parsed. */
export const loadConnectorFile = (path: string): Effect.Effect<LoadResult> =>
  Effect.suspend(() => {
    const read = readConnectorFile(path)
    if (!("text" in read)) return Effect.succeed(read)
    return Effect.promise(() => import("../../core/load.ts")).pipe(
      Effect.map(({ loadDefinitionText }) => loadDefinitionText(read.file, read.text)),
    )
  })

export const connectorFiles = (dir: string = CONNECTORS_DIR): ReadonlyArray<string> =>
  readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(dir, name))

export const loadConnectorDir = (dir: string = CONNECTORS_DIR): Effect.Effect<ReadonlyArray<LoadResult>> =>
  Effect.suspend(() => Effect.forEach(connectorFiles(dir), loadConnectorFile))

/** The valid definitions among these results, by id. */
export const definitionsOf = (results: ReadonlyArray<LoadResult>): ReadonlyMap<string, ConnectorDefinition> =>
  new Map(results.flatMap((result) => (result.definition ? [[result.definition.id, result.definition] as const] : [])))

export interface Loaded {
  /** Every valid definition, by id. */
  readonly definitions: ReadonlyMap<string, ConnectorDefinition>
  /** Files that did not load, each with its problems. */
  readonly invalid: ReadonlyArray<LoadResult>
}

export interface CatalogService {
  /** One definition, read on first use: a command that names a connector reads that file alone. */
  readonly get: (id: string) => Effect.Effect<ConnectorDefinition, UnknownConnector | DefinitionInvalid>
  /** Every definition, for the commands that list or serve them all. */
  readonly all: Effect.Effect<Loaded>
}

export class Catalog extends Context.Tag("keyway/Catalog")<Catalog, CatalogService>() {}

/** The file for this id is there but is not a valid definition: its problems say why. */
export class DefinitionInvalid extends Data.TaggedError("DefinitionInvalid")<{ readonly result: LoadResult }> {
  override get message(): string {
    return `${this.result.file} is not a valid definition (keyway validate ${this.result.file} lists every problem)`
  }
}

/** No definition has this id. */
export class UnknownConnector extends Data.TaggedError("UnknownConnector")<{
  readonly id: string
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `no connector "${this.id}"; one of: ${this.known.join(", ")}`
  }
}

const CONNECTOR_ID = /^[a-z][a-z0-9-]*$/

/** The definitions in a folder of connector files (by default the project's `connectors/`), each file named for its id. */
export const catalogFromDir = (dir: string = CONNECTORS_DIR): Layer.Layer<Catalog> =>
  Layer.effect(
    Catalog,
    Effect.gen(function* () {
      // Each file is loaded once, on first use, and so is the whole folder.
      const loadFile = yield* Effect.cachedFunction(loadConnectorFile)
      const all = yield* Effect.cached(
        Effect.map(loadConnectorDir(dir), (results) => ({
          definitions: definitionsOf(results),
          invalid: results.filter((r) => !r.definition),
        })),
      )
      const fileOf = (id: string): string | undefined =>
        [".yaml", ".yml"].map((ending) => join(dir, `${id}${ending}`)).find((path) => existsSync(path))
      // The ids there are, from the file names alone: nothing is parsed to name them.
      const known = () => connectorFiles(dir).map((path) => path.replace(/^.*\//, "").replace(/\.ya?ml$/, ""))
      return {
        get: (id) =>
          Effect.suspend((): Effect.Effect<ConnectorDefinition, UnknownConnector | DefinitionInvalid> => {
            const path = CONNECTOR_ID.test(id) ? fileOf(id) : undefined
            if (!path) return Effect.fail(new UnknownConnector({ id, known: known() }))
            return Effect.flatMap(loadFile(path), (result) =>
              result.definition ? Effect.succeed(result.definition) : Effect.fail(new DefinitionInvalid({ result })),
            )
          }),
        all,
      }
    }),
  )

/** A catalog of definitions already in memory. */
export const catalogOf = (definitions: Iterable<ConnectorDefinition>): Layer.Layer<Catalog> => {
  const byId = new Map([...definitions].map((d) => [d.id, d]))
  return Layer.succeed(Catalog, {
    get: (id) => {
      const definition = byId.get(id)
      return definition
        ? Effect.succeed(definition)
        : Effect.fail(new UnknownConnector({ id, known: [...byId.keys()] }))
    },
    all: Effect.succeed({ definitions: byId, invalid: [] }),
  })
}

export const findDefinition = (
  id: string,
): Effect.Effect<ConnectorDefinition, UnknownConnector | DefinitionInvalid, Catalog> =>
  Effect.flatMap(Catalog, (catalog) => catalog.get(id))
