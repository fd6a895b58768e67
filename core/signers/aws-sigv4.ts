/**
 * AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html),
 * computed by `aws4`. Only `host`, `x-amz-date`, `content-type`, `content-length` (with a body) and the
 * session token are signed, so the signature does not depend on other headers a transport adds.
 */
import aws4 from "aws4"
import type { Signer } from "../signers.ts"

/** `20261203T171900Z`: SigV4's basic ISO 8601 form. */
const amzDate = (now: Date): string => now.toISOString().replace(/[:-]|\.\d{3}/g, "")

export const awsSigV4: Signer = {
  description: "AWS Signature Version 4 (an Authorization header and X-Amz-Date), for AWS and AWS-compatible APIs.",
  parameters: {
    accessKeyId: { description: "The access key id (AKIA... or ASIA...).", secret: false, required: true },
    secretAccessKey: { description: "The secret access key.", secret: true, required: true },
    sessionToken: { description: "A temporary credential's session token.", secret: true, required: false },
    region: { description: "The AWS region the request goes to, e.g. us-east-1.", secret: false, required: true },
    service: { description: "The AWS service's signing name, e.g. sts or s3.", secret: false, required: true },
  },
  sign: (request, parameters, now) => {
    const headers: Record<string, string> = { Host: request.url.host, "X-Amz-Date": amzDate(now) }
    const contentType = request.headers["content-type"]
    if (contentType) headers["Content-Type"] = contentType
    if (parameters.sessionToken) headers["X-Amz-Security-Token"] = parameters.sessionToken
    const signed = aws4.sign(
      {
        host: request.url.host,
        path: `${request.url.pathname}${request.url.search}`,
        method: request.method,
        service: parameters.service ?? "",
        region: parameters.region ?? "",
        headers,
        body: request.body ?? "",
      },
      {
        accessKeyId: parameters.accessKeyId ?? "",
        secretAccessKey: parameters.secretAccessKey ?? "",
        ...(parameters.sessionToken ? { sessionToken: parameters.sessionToken } : {}),
      },
    )
    const result: Record<string, string> = {
      authorization: String(signed.headers?.Authorization ?? ""),
      "x-amz-date": headers["X-Amz-Date"] as string,
    }
    if (parameters.sessionToken) result["x-amz-security-token"] = parameters.sessionToken
    return result
  },
  curl: (parameters) => [
    "--aws-sigv4",
    `aws:amz:${parameters.region}:${parameters.service}`,
    "--user",
    `${parameters.accessKeyId}:${parameters.secretAccessKey}`,
  ],
  signedAt: (headers) => {
    const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(headers["x-amz-date"] ?? "")
    if (!match) return undefined
    const [, year, month, day, hours, minutes, seconds] = match.map(Number) as number[]
    return new Date(Date.UTC(year as number, (month as number) - 1, day, hours, minutes, seconds))
  },
}
