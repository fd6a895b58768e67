/**
 * The catalog: connector definitions read from disk, as a service. The pure work (parsing, decoding,
 * lint rules) is in `core/load.ts`; this is the I/O edge.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { type LoadResult, loadDefinitionText } from "../../core/load.ts"

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

const displayName = (path: string): string => {
  const shown = relative(process.cwd(), path)
  return shown.startsWith("..") ? path : shown
}

export const loadConnectorFile = (path: string): LoadResult => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unreadable"
    const problem = {
      file: displayName(path),
      line: 1,
      col: 1,
      path: "",
      code: "unreadable",
      severity: "error" as const,
    }
    return {
      file: problem.file,
      definition: undefined,
      problems: [{ ...problem, message: `cannot read the file (${reason})` }],
    }
  }
  return loadDefinitionText(displayName(path), text)
}

export const connectorFiles = (dir: string = CONNECTORS_DIR): ReadonlyArray<string> =>
  readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(dir, name))

export const loadConnectorDir = (dir: string = CONNECTORS_DIR): ReadonlyArray<LoadResult> =>
  connectorFiles(dir).map(loadConnectorFile)

/** Every valid definition, by id. Invalid files are left out; `keyway validate` reports them. */
export const loadCatalog = (dir: string = CONNECTORS_DIR): ReadonlyMap<string, ConnectorDefinition> =>
  definitionsOf(loadConnectorDir(dir))

const definitionsOf = (results: ReadonlyArray<LoadResult>): ReadonlyMap<string, ConnectorDefinition> =>
  new Map(results.flatMap((result) => (result.definition ? [[result.definition.id, result.definition] as const] : [])))

export interface CatalogService {
  /** Every valid definition, by id. */
  readonly definitions: ReadonlyMap<string, ConnectorDefinition>
  /** Files that did not load, each with its problems. */
  readonly invalid: ReadonlyArray<LoadResult>
}

export class Catalog extends Context.Tag("keyway/Catalog")<Catalog, CatalogService>() {}

/** No definition has this id. */
export class UnknownConnector extends Data.TaggedError("UnknownConnector")<{
  readonly id: string
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `no connector "${this.id}"; one of: ${this.known.join(", ")}`
  }
}

/** The definitions in a folder of connector files (by default the project's `connectors/`). */
export const catalogFromDir = (dir: string = CONNECTORS_DIR): Layer.Layer<Catalog> =>
  Layer.sync(Catalog, () => {
    const results = loadConnectorDir(dir)
    return { definitions: definitionsOf(results), invalid: results.filter((r) => !r.definition) }
  })

/** A catalog of definitions already in memory. */
export const catalogOf = (definitions: Iterable<ConnectorDefinition>): Layer.Layer<Catalog> =>
  Layer.succeed(Catalog, { definitions: new Map([...definitions].map((d) => [d.id, d])), invalid: [] })

export const findDefinition = (id: string): Effect.Effect<ConnectorDefinition, UnknownConnector, Catalog> =>
  Effect.flatMap(Catalog, ({ definitions }) => {
    const definition = definitions.get(id)
    return definition
      ? Effect.succeed(definition)
      : Effect.fail(new UnknownConnector({ id, known: [...definitions.keys()] }))
  })
