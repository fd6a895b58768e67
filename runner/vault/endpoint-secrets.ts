/**
 * Webhook endpoints' signing secrets, sealed at rest like credentials and bound to their endpoint.
 * An endpoint has one current secret and, while a secret is being rotated, the previous ones until
 * each one's overlap ends: deliveries are signed with all of them, so receivers can switch over
 * without missing an event. A master-key rotation re-seals them here, with the credentials.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { type MasterKeys, type Sealed, seal, unseal } from "./sealing.ts"
import type { ConnectionStore } from "./store.ts"

/** Where a workspace's endpoints are kept, beside its records. */
export const ENDPOINTS_STATE = "webhook-endpoints"

export interface Endpoint {
  readonly id: string
  readonly url: string
  readonly secret: Sealed
  /** Secrets replaced by a rotation, still signed with until `until` (an ISO time). */
  readonly previous?: ReadonlyArray<{ readonly secret: Sealed; readonly until: string }>
  readonly createdAt: string
  /** Set when the endpoint answered 410 Gone: no more deliveries. */
  readonly disabledAt?: string
}

/** What a secret is bound to: its endpoint, so one copied to another endpoint does not open. */
const boundTo = (workspace: string, endpoint: Pick<Endpoint, "id" | "url">) => ({
  workspace,
  id: endpoint.id,
  connector: "webhook",
  settings: { url: endpoint.url },
})

export const sealEndpointSecret = (
  keyring: MasterKeys,
  workspace: string,
  endpoint: Pick<Endpoint, "id" | "url">,
  secret: string,
): Sealed => seal(keyring, secret, boundTo(workspace, endpoint))

/** The secrets a delivery is signed with now: the current one first, then those still overlapping. */
export const signingSecrets = (
  keyring: MasterKeys,
  workspace: string,
  endpoint: Endpoint,
  now: number,
): Either.Either<ReadonlyArray<string>, string> => {
  const current = unseal(keyring, endpoint.secret, boundTo(workspace, endpoint))
  if (Either.isLeft(current)) return Either.left(current.left.message)
  const overlapping = (endpoint.previous ?? [])
    .filter((old) => Date.parse(old.until) > now)
    .flatMap((old) =>
      Either.match(unseal(keyring, old.secret, boundTo(workspace, endpoint)), {
        onLeft: () => [],
        onRight: (secret) => [secret],
      }),
    )
  return Either.right([current.right, ...overlapping])
}

export const endpointsIn = (store: ConnectionStore) =>
  Effect.map(store.getState<Endpoint[]>(ENDPOINTS_STATE), (endpoints) => endpoints ?? [])

/**
 * Re-seals every endpoint secret of a workspace under the current master key, and drops previous
 * secrets whose overlap has ended. Answers how many it re-sealed, the ones that would not open (kept
 * as they are), and the keys those still need.
 */
export const resealEndpoints = (store: ConnectionStore, keyring: MasterKeys, workspace: string) =>
  Effect.gen(function* () {
    const endpoints = yield* endpointsIn(store)
    let resealed = 0
    const unopened: string[] = []
    const inUse = new Set<string>()
    const reseal = (endpoint: Endpoint, sealed: Sealed): Sealed => {
      if (sealed.kid === keyring.current.id && sealed.v === 2) return sealed
      const opened = unseal(keyring, sealed, boundTo(workspace, endpoint))
      if (Either.isLeft(opened)) {
        unopened.push(`${workspace}/${endpoint.id}`)
        inUse.add(sealed.kid)
        return sealed
      }
      resealed++
      return sealEndpointSecret(keyring, workspace, endpoint, opened.right)
    }
    const now = Date.now()
    const updated = endpoints.map((endpoint) => {
      const previous = (endpoint.previous ?? [])
        .filter((old) => Date.parse(old.until) > now)
        .map((old) => ({ ...old, secret: reseal(endpoint, old.secret) }))
      const { previous: _, ...rest } = endpoint
      return { ...rest, secret: reseal(endpoint, endpoint.secret), ...(previous.length ? { previous } : {}) }
    })
    if (endpoints.length > 0) yield* store.putState(ENDPOINTS_STATE, updated)
    return { resealed, unopened, inUse }
  })
