/**
 * The catalog's files loaded at once, for callers that cannot wait on a promise: the library's
 * `createKeyway`, tests and benchmarks. It imports `core/load.ts` up front, which the CLI's catalog
 * (`catalog.ts`) leaves out unless a file must be parsed.
 */
import type { ConnectorDefinition } from "../../core/definition.ts"
import { loadDefinitionText } from "../../core/load.ts"
import type { LoadResult } from "../../core/problem.ts"
import { CONNECTORS_DIR, connectorFiles, definitionsOf, readConnectorFile } from "./catalog.ts"

/** One connector file, loaded. */
export const loadConnectorFileNow = (path: string): LoadResult => {
  const read = readConnectorFile(path)
  return "text" in read ? loadDefinitionText(read.file, read.text) : read
}

export const loadConnectorDirNow = (dir: string = CONNECTORS_DIR): ReadonlyArray<LoadResult> =>
  connectorFiles(dir).map(loadConnectorFileNow)

/** Every valid definition, by id. Invalid files are left out; `keyway validate` reports them. */
export const loadCatalog = (dir: string = CONNECTORS_DIR): ReadonlyMap<string, ConnectorDefinition> =>
  definitionsOf(loadConnectorDirNow(dir))
