/**
 * The HTTP transport: undici's `request` on one shared `Agent`, made a scoped resource (created on
 * acquire, closed on release) behind its own service tag, so tests and benchmarks can supply theirs.
 *
 * It never follows a redirect (callers decide), never buffers more than `maxBodyBytes`, stops a
 * request when its time is up (headers and body alike, however slowly the body trickles), and its
 * errors name the origin only: a path or query string may hold a credential.
 *
 * It connects only to public addresses (`core/addresses.ts`): a literal host is checked before the
 * request, and a name is resolved by the transport itself, so every address it resolves to is
 * checked at connect time, after any allow-list matched it. A name that resolves to loopback is
 * refused like the literal. The sandbox is the one exception, on an agent of its own that reaches
 * loopback only.
 */

import type { LookupAddress } from "node:dns"
import { lookup as dnsLookup } from "node:dns/promises"
import { createRequire } from "node:module"
import type { Readable } from "node:stream"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Dispatcher, Agent as UndiciAgent } from "undici"
import { addressAllowed, hostRefusal, isIpLiteral } from "../../core/addresses.ts"
import { ENGINE_DEFAULTS, type TransportDefaults } from "../../core/defaults.ts"
import { isLoopbackHost } from "../../core/hosts.ts"
import { ADDRESS_BLOCKED_CODE, type NetworkProblem, networkErrorFor } from "../../core/network-errors.ts"
import type { OutgoingRequest } from "./request.ts"

/**
 * undici's own modules, not its index: the index loads fetch, WebSocket, caches and mocks too, about
 * 9 MB of a CLI command's peak memory, and an agent and `request` are all the transport uses. Called
 * in its callback form on the agent, `request` also skips parsing a URL the transport already has.
 */
const fromUndici = createRequire(import.meta.url)
const Agent: typeof UndiciAgent = fromUndici("undici/lib/dispatcher/agent")
const dispatchRequest: (
  this: Dispatcher,
  options: Dispatcher.RequestOptions,
  callback: (error: Error | null, data: Dispatcher.ResponseData) => void,
) => void = fromUndici("undici/lib/api/api-request")

/** How names become addresses: the system resolver by default; tests pass their own. */
export type Resolver = (hostname: string) => Promise<ReadonlyArray<LookupAddress>>

export interface TransportOptions extends TransportDefaults {
  readonly resolve?: Resolver
}

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true })

export interface HttpResult {
  readonly status: number
  /** Lower-case names, as undici gives them. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
  /** The body was longer than `maxBodyBytes` and was cut off. */
  readonly truncated: boolean
}

export class TransportError extends Data.TaggedError("TransportError")<{
  readonly problem: NetworkProblem
  /** The underlying error code, e.g. ECONNRESET or UND_ERR_HEADERS_TIMEOUT. */
  readonly code: string
  /** Origin only (scheme, host, port): never a path or query. */
  readonly origin: string
}> {
  override get message(): string {
    return `${this.problem.replace(/_/g, " ")} talking to ${this.origin} (${this.code})`
  }
}

/** The request's time ran out: its share of the caller's deadline, not a network fault. */
export class TimeUp extends Data.TaggedError("TimeUp")<{ readonly origin: string }> {}

export interface SendOptions {
  /** How long this request may take in all, headers and body: what is left of the caller's deadline. */
  readonly timeoutMs: number
  /** The caller's own cancellation, passed to undici only when there is one. */
  readonly signal?: AbortSignal
  /** The request goes to the loopback sandbox: the one place a private address is allowed. */
  readonly sandbox?: boolean
}

export interface Transport {
  readonly start: (request: OutgoingRequest, options: SendOptions, done: (outcome: Outcome) => void) => () => void
  readonly options: TransportOptions
}

/** One request's end: its result, or why there is none. */
export type Outcome =
  | { readonly ok: true; readonly result: HttpResult }
  | { readonly ok: false; readonly error: TransportError | TimeUp }

export class HttpTransport extends Context.Tag("keyway/HttpTransport")<HttpTransport, Transport>() {}

const errorCode = (error: unknown): string => {
  const candidate = error as { code?: unknown; cause?: { code?: unknown } }
  const code = candidate?.code ?? candidate?.cause?.code
  return typeof code === "string" ? code : "UNKNOWN"
}

/**
 * Reads at most `limit` bytes, then stops reading (and so closes the connection). Plain stream
 * events, not an async iterator: this runs once per request, and the iterator's promises cost more
 * than the read.
 */
const readCapped = (
  body: Readable,
  limit: number,
  done: (text: string, truncated: boolean) => void,
  failed: (error: unknown) => void,
): void => {
  const chunks: Buffer[] = []
  let size = 0
  const onData = (chunk: Buffer) => {
    if (size + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - size))
      body.off("data", onData)
      body.off("end", onEnd)
      body.off("error", failed)
      body.on("error", () => undefined)
      body.destroy()
      done(Buffer.concat(chunks).toString("utf8"), true)
      return
    }
    size += chunk.length
    chunks.push(chunk)
  }
  const onEnd = () =>
    done(chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8"), false)
  body.on("data", onData)
  body.once("end", onEnd)
  body.once("error", failed)
}

/** What undici's connector calls to resolve a name: every address is checked before any connects. */
const guardedLookup =
  (resolve: Resolver) =>
  (
    hostname: string,
    options: { readonly all?: boolean },
    callback: (error: Error | null, address?: string | ReadonlyArray<LookupAddress>, family?: number) => void,
  ): void => {
    const refuse = () =>
      callback(Object.assign(new Error(`${hostname} is not a public address`), { code: ADDRESS_BLOCKED_CODE }))
    if (hostRefusal(hostname)) {
      refuse()
      return
    }
    resolve(hostname).then(
      (addresses) => {
        const [first] = addresses
        // One private answer among public ones is enough to refuse: the next lookup could pick it.
        if (!first || !addresses.every((a) => addressAllowed(a.address))) {
          refuse()
          return
        }
        if (options.all) callback(null, addresses)
        else callback(null, first.address, first.family)
      },
      (error: Error) => callback(error),
    )
  }

/** The host may not be connected to at all: a literal special address, or an internal name. */
const refusedBeforeConnecting = (url: URL, sandbox: boolean): boolean =>
  sandbox ? !isLoopbackHost(url.hostname) : isIpLiteral(url.hostname) && hostRefusal(url.hostname) !== undefined

export interface Agents {
  /** For vendors: connects only to public addresses. */
  readonly guarded: UndiciAgent
  /** For the loopback sandbox only. */
  readonly sandbox: UndiciAgent
}

export const makeTransport = (agents: Agents, options: TransportOptions): Transport => {
  const start: Transport["start"] = (outgoing, { timeoutMs, signal, sandbox = false }, done) => {
    const origin = outgoing.url.origin
    if (refusedBeforeConnecting(outgoing.url, sandbox)) {
      done({
        ok: false,
        error: new TransportError({ problem: "address_blocked", code: ADDRESS_BLOCKED_CODE, origin }),
      })
      return () => undefined
    }
    const limit = Math.max(1, Math.floor(timeoutMs))
    // undici's own headers timer covers the wait for headers; it is the deadline when that is sooner.
    const headersByDeadline = limit < options.headersTimeoutMs
    let body: Readable | undefined
    let timeUp = false
    let over = false
    const finish = (outcome: Outcome) => {
      if (over) return
      over = true
      clearTimeout(timer)
      body = undefined
      done(outcome)
    }
    const failed = (error: unknown) => {
      const code = errorCode(error)
      finish({
        ok: false,
        error:
          timeUp || (headersByDeadline && code === "UND_ERR_HEADERS_TIMEOUT")
            ? new TimeUp({ origin })
            : new TransportError({ problem: networkErrorFor(code).problem, code, origin }),
      })
    }
    // A body that trickles in resets undici's idle timer for ever; this one timer, started with the
    // request, bounds headers and body as a whole.
    const timer = setTimeout(() => {
      timeUp = true
      if (body) body.destroy(new Error("time up"))
    }, limit)
    const dispatcher = sandbox ? agents.sandbox : agents.guarded
    dispatchRequest.call(
      dispatcher,
      {
        origin: origin,
        path: `${outgoing.url.pathname}${outgoing.url.search}`,
        method: outgoing.method as Dispatcher.HttpMethod,
        headers: outgoing.headers,
        body: outgoing.body ?? null,
        signal: signal ?? null,
        headersTimeout: headersByDeadline ? limit : options.headersTimeoutMs,
        bodyTimeout: Math.min(options.bodyTimeoutMs, limit),
      },
      (error, response) => {
        if (error) return failed(error)
        body = response.body
        if (over || timeUp) {
          response.body.on("error", () => undefined)
          response.body.destroy(new Error("time up"))
          if (!over) failed(new Error("time up"))
          return
        }
        readCapped(
          response.body,
          options.maxBodyBytes,
          (text, truncated) =>
            finish({
              ok: true,
              result: {
                status: response.statusCode,
                headers: response.headers as HttpResult["headers"],
                body: text,
                truncated,
              },
            }),
          failed,
        )
      },
    )
    return () => {
      over = true
      clearTimeout(timer)
      if (body) {
        body.on("error", () => undefined)
        body.destroy()
      }
    }
  }
  return { options, start }
}

/** A plain agent with the transport's limits; baselines in the benchmarks use it too. */
export const makeAgent = (
  options: TransportDefaults,
  connect: { lookup?: ReturnType<typeof guardedLookup> } = {},
): UndiciAgent =>
  new Agent({
    connections: options.connectionsPerOrigin,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connect: { timeout: options.connectTimeoutMs, ...connect },
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
  })

export const makeAgents = (options: TransportOptions): Agents => ({
  guarded: makeAgent(options, { lookup: guardedLookup(options.resolve ?? systemResolver) }),
  sandbox: makeAgent(options),
})

/** The transport as a scoped layer: its agents are closed when the scope ends. */
export const transportLayer = (options: Partial<TransportOptions> = {}): Layer.Layer<HttpTransport> => {
  const resolved = { ...ENGINE_DEFAULTS.transport, ...options }
  return Layer.scoped(
    HttpTransport,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => makeAgents(resolved)),
        (agents) => Effect.promise(() => Promise.all([agents.guarded.destroy(), agents.sandbox.destroy()])),
      ),
      (agents) => makeTransport(agents, resolved),
    ),
  )
}
