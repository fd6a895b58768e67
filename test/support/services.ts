/**
 * The engine and catalog as Layers, for tests that run checks as Effects (under TestClock, say)
 * rather than through the Promise API. Each provide builds its own Agent and pacers.
 */
import * as Layer from "effect/Layer"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { type Catalog, catalogOf } from "../../runner/catalog/catalog.ts"
import { loadCatalog } from "../../runner/catalog/load-now.ts"
import { engineLayer, type HttpEngine } from "../../runner/http/engine.ts"
import { type TransportOptions, transportLayer } from "../../runner/http/transport.ts"
import { Sandbox } from "../../runner/sandbox/service.ts"

export const checkServices = (
  sandboxUrl: string,
  options: {
    readonly transport?: Partial<TransportOptions>
    readonly definitions?: Iterable<ConnectorDefinition>
  } = {},
): Layer.Layer<HttpEngine | Catalog> =>
  Layer.mergeAll(
    engineLayer.pipe(Layer.provide(transportLayer(options.transport))),
    catalogOf(options.definitions ?? loadCatalog().values()),
    Layer.succeed(Sandbox, { url: sandboxUrl }),
  )
