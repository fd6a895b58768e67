/**
 * The HTTP transport: undici's `request` on one shared `Agent`, made a scoped resource (created on
 * acquire, closed on release) behind its own service tag, so tests and benchmarks can supply theirs.
 *
 * It never follows a redirect (callers decide), never buffers more than `maxBodyBytes`, and its
 * errors name the origin only: a path or query string may hold a credential.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Agent, request } from "undici"
import { PacerRegistry } from "../../core/pacer.ts"

export interface TransportOptions {
  readonly connectTimeoutMs: number
  readonly headersTimeoutMs: number
  readonly bodyTimeoutMs: number
  /** Bodies larger than this are cut off, and the response is flagged `truncated`. */
  readonly maxBodyBytes: number
  /** Keep-alive connections per origin. */
  readonly connectionsPerOrigin: number
  readonly keepAliveTimeoutMs: number
}

export const DEFAULT_TRANSPORT_OPTIONS: TransportOptions = {
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 30_000,
  maxBodyBytes: 8 * 1024 * 1024,
  connectionsPerOrigin: 16,
  keepAliveTimeoutMs: 30_000,
}

export interface OutgoingRequest {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

export interface HttpResult {
  readonly status: number
  /** Lower-case names, as undici gives them. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
  /** The body was longer than `maxBodyBytes` and was cut off. */
  readonly truncated: boolean
}

export type TransportProblem =
  | "connect_timeout"
  | "headers_timeout"
  | "body_timeout"
  | "connection_reset"
  | "connection_refused"
  | "dns_failure"
  | "tls_failure"
  | "network_error"

export class TransportError extends Data.TaggedError("TransportError")<{
  readonly problem: TransportProblem
  /** The underlying error code, e.g. ECONNRESET or UND_ERR_HEADERS_TIMEOUT. */
  readonly code: string
  /** Origin only (scheme, host, port): never a path or query. */
  readonly origin: string
}> {
  override get message(): string {
    return `${this.problem.replace(/_/g, " ")} talking to ${this.origin} (${this.code})`
  }
}

const problemFor = (code: string): TransportProblem => {
  switch (code) {
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connect_timeout"
    case "UND_ERR_HEADERS_TIMEOUT":
      return "headers_timeout"
    case "UND_ERR_BODY_TIMEOUT":
      return "body_timeout"
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
    case "UND_ERR_CLOSED":
      return "connection_reset"
    case "ECONNREFUSED":
      return "connection_refused"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "dns_failure"
  }
  return code.startsWith("ERR_TLS") || code.includes("CERT") ? "tls_failure" : "network_error"
}

const errorCode = (error: unknown): string => {
  const candidate = error as { code?: unknown; cause?: { code?: unknown } }
  const code = candidate?.code ?? candidate?.cause?.code
  return typeof code === "string" ? code : "UNKNOWN"
}

export interface Transport {
  readonly send: (request: OutgoingRequest) => Effect.Effect<HttpResult, TransportError>
  readonly options: TransportOptions
  /** One pacer per credential and host, shared by every request through this transport. */
  readonly pacers: PacerRegistry
}

export class HttpTransport extends Context.Tag("keyway/HttpTransport")<HttpTransport, Transport>() {}

/** Reads at most `limit` bytes, then stops reading (and so closes the connection). */
const readCapped = async (
  body: AsyncIterable<Buffer>,
  limit: number,
): Promise<{ text: string; truncated: boolean }> => {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    if (size + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - size))
      return { text: Buffer.concat(chunks).toString("utf8"), truncated: true }
    }
    size += chunk.length
    chunks.push(chunk)
  }
  return { text: Buffer.concat(chunks).toString("utf8"), truncated: false }
}

export const makeTransport = (agent: Agent, options: TransportOptions): Transport => ({
  options,
  pacers: new PacerRegistry(),
  send: (outgoing) =>
    Effect.tryPromise({
      try: async (signal) => {
        const response = await request(outgoing.url, {
          dispatcher: agent,
          method: outgoing.method as "GET",
          headers: outgoing.headers,
          ...(outgoing.body !== undefined ? { body: outgoing.body } : {}),
          signal,
          headersTimeout: options.headersTimeoutMs,
          bodyTimeout: options.bodyTimeoutMs,
        })
        const { text, truncated } = await readCapped(response.body, options.maxBodyBytes)
        return {
          status: response.statusCode,
          headers: response.headers as HttpResult["headers"],
          body: text,
          truncated,
        }
      },
      catch: (error) => {
        const code = errorCode(error)
        return new TransportError({ problem: problemFor(code), code, origin: outgoing.url.origin })
      },
    }),
})

export const makeAgent = (options: TransportOptions): Agent =>
  new Agent({
    connections: options.connectionsPerOrigin,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connect: { timeout: options.connectTimeoutMs },
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
  })

/** The transport as a scoped layer: the Agent is closed when the scope ends. */
export const transportLayer = (options: Partial<TransportOptions> = {}): Layer.Layer<HttpTransport> => {
  const resolved = { ...DEFAULT_TRANSPORT_OPTIONS, ...options }
  return Layer.scoped(
    HttpTransport,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => makeAgent(resolved)),
        (agent) => Effect.promise(() => agent.destroy()),
      ),
      (agent) => makeTransport(agent, resolved),
    ),
  )
}
