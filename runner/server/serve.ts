/**
 * `keyway serve`: one HTTP server for the API (`/v1/...`, `/openapi.json`), the connect form
 * (`/connect/<token>`) and the host page's script (`/connect.js`), over the same store, engine and
 * keyring as the CLI and the library. With `sandbox`, every check goes to the sandbox's fakes and
 * `/` offers a form for each connector.
 */
import { createServer } from "node:http"
import { HttpLayerRouter, HttpMiddleware, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import * as HttpRouter from "@effect/platform/HttpRouter"
import { NodeHttpServer } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { catalogOf } from "../catalog/catalog.ts"
import { makeMetrics } from "../fleet/metrics.ts"
import { engineLayer } from "../http/engine.ts"
import { transportLayer } from "../http/transport.ts"
import { sandboxLayer } from "../sandbox/layer.ts"
import { keyringLayer } from "../vault/sealing.ts"
import type { StoreConfig } from "../vault/store.ts"
import { KeywayApi } from "./api.ts"
import { escapeHtml, FORM_BODY_LIMIT, formRoutes } from "./form.ts"
import { authorizationLive, connectionsLive, connectorsLive, schedulesLive, sessionsLive } from "./handlers.ts"
import { DEFAULT_LIMITS, KeywayServerTag, type Limits, makeLimiter } from "./service.ts"
import { openServiceState } from "./state.ts"

export interface ServeOptions {
  readonly port: number
  readonly host: string
  readonly definitions: ReadonlyMap<string, ConnectorDefinition>
  readonly store: StoreConfig
  readonly env: NodeJS.ProcessEnv
  /** Send every check to the sandbox's fakes, and offer a try-it page at `/`. */
  readonly sandbox: boolean
  /** A running sandbox for `sandbox` mode (KEYWAY_SANDBOX_URL); otherwise one is started for the server. */
  readonly sandboxUrl?: string | undefined
  readonly limits?: Partial<Limits>
  /** The fleet's Redis: connections' sync schedules through the API. */
  readonly fleetRedisUrl?: string | undefined
  /** One line per request: method, path with tokens hidden, status, time. Never a query string or body. */
  readonly log?: (line: string) => void
}

/** The workspace `/try/<connector>` makes sessions in, in sandbox mode. */
export const SANDBOX_WORKSPACE = "sandbox"

/** An API body is a few credentials and settings: far more is refused before it is read. */
export const API_BODY_LIMIT = 64 * 1024

/** A path as logs show it: tokens and ids in it are not for logs. */
export const loggedPath = (url: string): string =>
  (url.split("?")[0] ?? "/").replace(/\/connect\/[^/]+/, "/connect/[token]")

/** The URL a listening server answers on, for links and for the caller. */
const urlOf = (address: HttpServer.Address): string =>
  address._tag === "TcpAddress"
    ? `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}`
    : "http://localhost"

/** `/` in sandbox mode: a form for each connector, each opened with a fresh session. */
const sandboxIndex = (definitions: ReadonlyMap<string, ConnectorDefinition>) =>
  Layer.mergeAll(
    HttpLayerRouter.add(
      "GET",
      "/",
      HttpServerResponse.text(
        `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keyway sandbox</title><link rel="stylesheet" href="/form.css"></head>
<body><main>
<h1>Keyway sandbox</h1>
<p>Every check goes to the sandbox's fakes. Try a key of <code>sandbox-valid</code>, <code>sandbox-invalid</code> or <code>sandbox-429-retry-after-1</code>.</p>
<ul>${[...definitions.values()].map((d) => `<li><a href="/try/${escapeHtml(d.id)}">Connect ${escapeHtml(d.name)}</a></li>`).join("")}</ul>
<p>The API is described at <a href="/openapi.json">/openapi.json</a>.</p>
</main></body></html>
`,
        {
          contentType: "text/html; charset=utf-8",
          headers: { "content-security-policy": "default-src 'none'; style-src 'self'; frame-ancestors 'none'" },
        },
      ),
    ),
    HttpLayerRouter.add(
      "GET",
      "/try/:connector",
      Effect.gen(function* () {
        const server = yield* KeywayServerTag
        const params = yield* HttpRouter.params
        const connector = params.connector ?? ""
        if (!server.definitions.has(connector)) return HttpServerResponse.text("no such connector", { status: 404 })
        const { token } = yield* server.state.createSession(
          {
            workspace: SANDBOX_WORKSPACE,
            endUser: { id: "sandbox-user" },
            allowedOrigin: server.publicUrl(),
            allowedConnectors: [connector],
            returnUrl: `${server.publicUrl()}/`,
          },
          server.limits.sessionLifetimeMs,
          Date.now(),
        )
        return HttpServerResponse.redirect(`/connect/${token}/${connector}`, { status: 303 })
      }).pipe(Effect.orDie),
    ),
  )

const plainIndex = HttpLayerRouter.add(
  "GET",
  "/",
  HttpServerResponse.unsafeJson({ service: "keyway", api: "/v1", openapi: "/openapi.json", script: "/connect.js" }),
)

/**
 * A body the API's Schemas refused (`HttpApiDecodeError`) as the API's own BadRequest: every error
 * has a code, a message and a remediation, and names each wrong field.
 */
const asBadRequest = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status !== 400 || response.body._tag !== "Uint8Array") return response
  let decoded: { _tag?: string; issues?: ReadonlyArray<{ path: ReadonlyArray<unknown>; message: string }> }
  try {
    decoded = JSON.parse(new TextDecoder().decode(response.body.body))
  } catch {
    return response
  }
  if (decoded._tag !== "HttpApiDecodeError") return response
  const fields = (decoded.issues ?? []).map((issue) => ({ field: issue.path.join("."), message: issue.message }))
  return HttpServerResponse.unsafeJson(
    {
      _tag: "BadRequest",
      code: "invalid_request",
      message: `The request is not what this endpoint takes: ${fields.map((f) => `${f.field || "body"} ${f.message}`).join("; ")}`,
      remediation: "Correct the fields named; /openapi.json describes every endpoint.",
      fields,
    },
    { status: 400 },
  )
}

/**
 * A 429 says when to come back in the standard header too, not only in its body: clients and
 * proxies honour Retry-After without knowing Keyway's error shape.
 */
const withRetryAfter = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status !== 429 || response.body._tag !== "Uint8Array") return response
  try {
    const { retryAfterSeconds } = JSON.parse(new TextDecoder().decode(response.body.body)) as {
      retryAfterSeconds?: unknown
    }
    return typeof retryAfterSeconds === "number" && Number.isFinite(retryAfterSeconds)
      ? HttpServerResponse.setHeader(response, "retry-after", String(Math.max(1, Math.ceil(retryAfterSeconds))))
      : response
  } catch {
    return response
  }
}

/** The server, for the scope: answers its URL once it listens. */
export const serve = (options: ServeOptions): Effect.Effect<{ readonly url: string }, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const limits = { ...DEFAULT_LIMITS, ...options.limits }
    const metrics = makeMetrics()
    const http = NodeHttpServer.layer(() => createServer(), { port: options.port, host: options.host })
    const catalog = catalogOf(options.definitions.values())
    const checks = Layer.mergeAll(
      engineLayer.pipe(Layer.provide(transportLayer())),
      keyringLayer(options.store.home, options.env),
      options.sandbox ? sandboxLayer(options.sandboxUrl) : Layer.empty,
    ).pipe(Layer.provideMerge(catalog))
    const server = Layer.scoped(
      KeywayServerTag,
      Effect.gen(function* () {
        const state = yield* openServiceState(options.store)
        const url = urlOf((yield* HttpServer.HttpServer).address)
        const limiter = yield* Effect.acquireRelease(
          Effect.promise(() =>
            makeLimiter(limits, options.store.url?.startsWith("redis") ? options.store.url : undefined),
          ),
          (opened) => Effect.promise(opened.close),
        )
        const queues = options.fleetRedisUrl
          ? yield* Effect.acquireRelease(
              // BullMQ and its Redis client load only for a server with the fleet's Redis.
              Effect.promise(() =>
                import("../fleet/queues.ts").then(({ openQueues }) => openQueues(options.fleetRedisUrl as string)),
              ),
              (opened) => Effect.promise(opened.close),
            )
          : undefined
        return {
          state,
          queues,
          metrics,
          definitions: options.definitions,
          limits,
          publicUrl: () => url,
          takeCheck: limiter.take,
        }
      }),
    ).pipe(Layer.provide(http))
    const routes = Layer.mergeAll(
      HttpLayerRouter.addHttpApi(KeywayApi, { openapiPath: "/openapi.json" }).pipe(
        Layer.provide([connectorsLive, connectionsLive, sessionsLive, schedulesLive]),
        Layer.provide(authorizationLive),
      ),
      formRoutes,
      HttpLayerRouter.add(
        "GET",
        "/metrics",
        Effect.promise(async () =>
          HttpServerResponse.text(await metrics.registry.metrics(), { contentType: metrics.registry.contentType }),
        ),
      ),
      options.sandbox ? sandboxIndex(options.definitions) : plainIndex,
    )
    const log = options.log
    // Requests being answered: a stop waits for them before the engine, store and sandbox close.
    let inFlight = 0
    let drained: (() => void) | undefined
    // Global, so it sees (and may replace) every route's response: body limits, one error shape, the log.
    const guard = HttpLayerRouter.middleware(
      (handle: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>) =>
        Effect.gen(function* () {
          const request = yield* HttpServerRequest.HttpServerRequest
          const started = Date.now()
          const limit = request.url.startsWith("/connect/") ? FORM_BODY_LIMIT : API_BODY_LIMIT
          const response =
            Number(request.headers["content-length"] ?? "0") > limit
              ? HttpServerResponse.unsafeJson(
                  {
                    _tag: "BadRequest",
                    code: "too_large",
                    message: `The request body is larger than ${limit / 1024} KiB.`,
                    remediation: "Send only the credentials and settings the connector needs.",
                  },
                  { status: 413 },
                )
              : withRetryAfter(
                  asBadRequest(
                    yield* Effect.ensuring(
                      Effect.zipRight(
                        Effect.sync(() => inFlight++),
                        handle,
                      ),
                      Effect.sync(() => {
                        inFlight--
                        if (inFlight === 0) drained?.()
                      }),
                    ),
                  ),
                )
          log?.(`${request.method} ${loggedPath(request.url)} ${response.status} ${Date.now() - started}ms`)
          return response
        }),
      { global: true },
    )
    // No request is traced: Keyway exports no traces, and the span @effect/platform opens for each
    // request (its URL parsed, its headers redacted and copied into attributes) was only garbage.
    const app = HttpLayerRouter.serve(Layer.mergeAll(routes, guard), {
      disableLogger: true,
      disableListenLog: true,
    }).pipe(HttpMiddleware.withTracerDisabledWhen(() => true))
    const context = yield* Layer.build(
      app.pipe(Layer.provide(Layer.mergeAll(server, checks)), Layer.provideMerge(http)),
    )
    // Runs first when the scope closes (finalizers run last-in, first-out): in-flight checks finish
    // and write before anything they use is closed.
    yield* Effect.addFinalizer(() =>
      inFlight === 0
        ? Effect.void
        : Effect.timeout(
            Effect.async<void>((resume) => {
              drained = () => resume(Effect.void)
            }),
            "30 seconds",
          ).pipe(Effect.ignore),
    )
    return { url: urlOf((yield* Effect.provide(HttpServer.HttpServer, context)).address) }
  })
