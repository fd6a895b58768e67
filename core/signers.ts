/**
 * Request signing, for the few vendors whose requests must be signed rather than carry a key (AWS
 * SigV4, HMAC-signed APIs). A signer is TypeScript, named here; a definition refers to it by name:
 *
 *     auth:
 *       - in: signer
 *         signer: aws-sigv4
 *         with: { accessKeyId: ${credentials.accessKeyId}, secretAccessKey: ${credentials.secretAccessKey}, ... }
 *
 * A signer is pure: it gets the whole request and the moment, and answers the headers to add. It
 * also says which moment a signed request claims, so a fake can sign the request again and compare.
 * To add one: write it beside `signers/aws-sigv4.ts`, add it to `SIGNERS`, and test it.
 */
import { awsSigV4 } from "./signers/aws-sigv4.ts"

export interface UnsignedRequest {
  readonly method: string
  readonly url: URL
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string | undefined
}

export interface SignerParameter {
  readonly description: string
  /** A secret parameter must come from a secret credential, and is never shown. */
  readonly secret: boolean
  readonly required: boolean
}

export interface Signer {
  readonly description: string
  readonly parameters: Readonly<Record<string, SignerParameter>>
  /** The headers (lower-case names) that sign `request` at `now`. */
  readonly sign: (
    request: UnsignedRequest,
    parameters: Readonly<Record<string, string>>,
    now: Date,
  ) => Record<string, string>
  /** curl's own options that sign the same way, for the docs' verify command, when curl has them. */
  readonly curl?: (parameters: Readonly<Record<string, string>>) => ReadonlyArray<string>
  /** The moment a signed request says it was signed at, or undefined when it says none. */
  readonly signedAt: (headers: Readonly<Record<string, string>>) => Date | undefined
}

export const SIGNERS: Readonly<Record<string, Signer>> = {
  "aws-sigv4": awsSigV4,
}

export const signerNamed = (name: string): Signer | undefined =>
  Object.hasOwn(SIGNERS, name) ? SIGNERS[name] : undefined
