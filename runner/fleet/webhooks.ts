/**
 * Webhooks, as Standard Webhooks 1.0 describes them: each event is delivered to every enabled
 * endpoint of its workspace by a BullMQ job whose id is the delivery's `webhook-id`, so it is queued
 * once and signed the same on every retry. A failed delivery is retried over hours to days (honouring
 * Retry-After); an endpoint that answers 410 is disabled. Endpoint secrets are sealed at rest like
 * credentials. Payloads carry the connection's tags, never a secret.
 */
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { newWebhookSecret, signWebhook } from "../../core/webhook-signature.ts"
import type { ServiceState } from "../server/state.ts"
import {
  ENDPOINTS_STATE,
  type Endpoint,
  endpointsIn,
  sealEndpointSecret,
  signingSecrets,
} from "../vault/endpoint-secrets.ts"
import type { MasterKeys } from "../vault/sealing.ts"
import type { Queues } from "./queues.ts"

export type { Endpoint } from "../vault/endpoint-secrets.ts"

export const WEBHOOK_QUEUE = "keyway-webhooks"

export type WebhookEventType =
  | "connection.created"
  | "connection.verification_failed"
  | "connection.recovered"
  | "connection.expiring"
  | "sync.finished"
  | "sync.failed"

export interface WebhookEvent {
  readonly type: WebhookEventType
  readonly timestamp: string
  readonly data: Readonly<Record<string, unknown>>
}

export interface Delivery {
  readonly workspace: string
  readonly endpointId: string
  readonly webhookId: string
  readonly event: WebhookEvent
}

/** Standard Webhooks' retry schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. */
export const RETRY_SCHEDULE_MS = [5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 504e5, 72e6, 864e5]

const endpointsOf = (state: ServiceState, workspace: string) => endpointsIn(state.storeFor(workspace))

const saveEndpoints = (state: ServiceState, workspace: string, endpoints: ReadonlyArray<Endpoint>) =>
  Effect.runPromise(state.storeFor(workspace).putState(ENDPOINTS_STATE, endpoints))

/** Only https, except to this machine (for a host's own tests): a webhook carries customers' data. */
export const endpointUrlProblem = (url: string): string | undefined => {
  try {
    const parsed = new URL(url)
    if (parsed.protocol === "https:") return undefined
    if (parsed.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(parsed.hostname)) return undefined
    return "a webhook endpoint must be https (or http on this machine)"
  } catch {
    return "not a URL"
  }
}

/** Adds an endpoint; answers its id and its secret, which is shown once and kept sealed. */
export const addEndpoint = async (state: ServiceState, keyring: MasterKeys, workspace: string, url: string) => {
  const id = `whe_${randomBytes(8).toString("hex")}`
  const secret = newWebhookSecret()
  const endpoint: Endpoint = {
    id,
    url,
    secret: sealEndpointSecret(keyring, workspace, { id, url }, secret),
    createdAt: new Date().toISOString(),
  }
  const existing = await Effect.runPromise(endpointsOf(state, workspace))
  await saveEndpoints(state, workspace, [...existing, endpoint])
  return { id, secret }
}

/**
 * Gives an endpoint a new secret, shown once. The old ones are still signed with for `overlapMs` at
 * most, so a receiver that checks either secret misses nothing while it switches; undefined for no
 * such endpoint.
 */
export const rotateEndpointSecret = async (
  state: ServiceState,
  keyring: MasterKeys,
  workspace: string,
  endpointId: string,
  overlapMs: number,
) => {
  const endpoints = await Effect.runPromise(endpointsOf(state, workspace))
  const endpoint = endpoints.find((e) => e.id === endpointId)
  if (!endpoint) return undefined
  const secret = newWebhookSecret()
  const now = Date.now()
  const until = new Date(now + overlapMs).toISOString()
  // The overlap bounds every old secret, not just the one replaced: `--overlap 0` ends them all.
  const previous = [
    { secret: endpoint.secret, until },
    ...(endpoint.previous ?? []).map((old) => (Date.parse(old.until) < now + overlapMs ? old : { ...old, until })),
  ].filter((old) => Date.parse(old.until) > now)
  const { previous: _, ...rest } = endpoint
  const rotated: Endpoint = {
    ...rest,
    secret: sealEndpointSecret(keyring, workspace, endpoint, secret),
    ...(previous.length > 0 ? { previous } : {}),
  }
  await saveEndpoints(
    state,
    workspace,
    endpoints.map((e) => (e.id === endpointId ? rotated : e)),
  )
  return { id: endpointId, secret, previousValidUntil: overlapMs > 0 ? until : null }
}

/** Queues one delivery of `event` per enabled endpoint of the workspace. */
export const emit = async (
  queues: Queues & { readonly webhooks: import("bullmq").Queue<Delivery> },
  state: ServiceState,
  workspace: string,
  event: WebhookEvent,
) => {
  const endpoints = (await Effect.runPromise(endpointsOf(state, workspace))).filter((e) => !e.disabledAt)
  const webhookId = `msg_${randomBytes(12).toString("hex")}`
  for (const endpoint of endpoints) {
    const delivery: Delivery = { workspace, endpointId: endpoint.id, webhookId, event }
    await queues.webhooks.add("deliver", delivery, {
      jobId: `${webhookId}-${endpoint.id}`,
      attempts: RETRY_SCHEDULE_MS.length + 1,
      backoff: { type: "standard-webhooks" },
      removeOnComplete: 1000,
    })
  }
}

/** Thrown for a delivery to try again; `retryAfterMs` when the endpoint said when. */
export class DeliveryFailed extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }
}

/** Delivers one event; throws `DeliveryFailed` for another attempt. */
export const deliver = async (state: ServiceState, keyring: MasterKeys, delivery: Delivery): Promise<string> => {
  const endpoints = await Effect.runPromise(endpointsOf(state, delivery.workspace))
  const endpoint = endpoints.find((e) => e.id === delivery.endpointId)
  if (!endpoint || endpoint.disabledAt) return "skipped: the endpoint is gone or disabled"
  const secrets = signingSecrets(keyring, delivery.workspace, endpoint, Date.now())
  if (Either.isLeft(secrets)) return `skipped: the endpoint's secret cannot be unsealed (${secrets.left})`
  const body = JSON.stringify(delivery.event)
  const headers = signWebhook({
    id: delivery.webhookId,
    timestamp: Math.floor(Date.now() / 1000),
    body,
    secrets: secrets.right,
  })
  let response: Response
  try {
    response = await fetch(endpoint.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(15_000),
    })
  } catch (error) {
    throw new DeliveryFailed(
      `the endpoint could not be reached (${error instanceof Error ? error.message : String(error)})`,
    )
  }
  await response.body?.cancel()
  if (response.status >= 200 && response.status < 300) return `delivered: ${response.status}`
  if (response.status === 410) {
    const disabled = endpoints.map((e) => (e.id === endpoint.id ? { ...e, disabledAt: new Date().toISOString() } : e))
    await saveEndpoints(state, delivery.workspace, disabled)
    return "disabled: the endpoint answered 410 Gone"
  }
  const retryAfter = Number(response.headers.get("retry-after"))
  throw new DeliveryFailed(
    `the endpoint answered ${response.status}`,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
  )
}

/** BullMQ's backoff for a delivery: the endpoint's Retry-After, else the standard schedule, scaled for tests. */
export const webhookBackoff =
  (scale: number) =>
  (attemptsMade: number, _type: string | undefined, error: Error | undefined): number =>
    error instanceof DeliveryFailed && error.retryAfterMs !== undefined
      ? error.retryAfterMs
      : Math.round((RETRY_SCHEDULE_MS[Math.min(attemptsMade, RETRY_SCHEDULE_MS.length) - 1] ?? 864e5) * scale)
