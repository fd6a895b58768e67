/**
 * The one interpreter of auth placements: where each credential goes in a request. Request building,
 * the docs' curl commands and the derived fake all read placements through `placeAuth`, each with its
 * own way of filling a template (real values, `<API key>` placeholders, or the fake's test values).
 */
import type { Placement } from "./definition.ts"

export type PlacedAuth =
  | { readonly in: "header"; readonly name: string; readonly value: string }
  | { readonly in: "query"; readonly name: string; readonly value: string }
  | { readonly in: "basic"; readonly username: string; readonly password: string }

export interface AuthPlacement {
  /** The placed values, in the definition's order; a placement whose template could not be filled is left out. */
  readonly placed: ReadonlyArray<PlacedAuth>
  /** The templates that could not be filled. */
  readonly unfilled: ReadonlyArray<string>
}

/** Fills each placement's templates with `fill`, which answers undefined when a value is missing. */
export const placeAuth = (
  placements: ReadonlyArray<Placement>,
  fill: (template: string) => string | undefined,
): AuthPlacement => {
  const placed: PlacedAuth[] = []
  const unfilled: string[] = []
  const filled = (template: string): string | undefined => {
    const value = fill(template)
    if (value === undefined) unfilled.push(template)
    return value
  }
  for (const placement of placements) {
    // A signer signs the whole request once it is built: `runner/http/request.ts` applies it last.
    if (placement.in === "signer") continue
    if (placement.in === "basic") {
      const username = filled(placement.username)
      const password = filled(placement.password)
      if (username !== undefined && password !== undefined) placed.push({ in: "basic", username, password })
    } else {
      const value = filled(placement.value)
      if (value !== undefined) placed.push({ in: placement.in, name: placement.name, value })
    }
  }
  return { placed, unfilled }
}

/** The `Authorization` value for HTTP Basic auth (RFC 7617). */
export const basicAuthorization = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`

/** What placed credentials put on the wire: header names are lower-cased, as HTTP compares them. */
export const wireParts = (
  placed: ReadonlyArray<PlacedAuth>,
): {
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly query: ReadonlyArray<readonly [string, string]>
} => {
  // Plain loops: this runs for every request, and flatMap's arrays cost more than the rest of it.
  const headers: Array<readonly [string, string]> = []
  const query: Array<readonly [string, string]> = []
  for (const p of placed) {
    if (p.in === "header") headers.push([p.name.toLowerCase(), p.value])
    else if (p.in === "basic") headers.push(["authorization", basicAuthorization(p.username, p.password)])
    else if (p.in === "query") query.push([p.name, p.value])
  }
  return { headers, query }
}
