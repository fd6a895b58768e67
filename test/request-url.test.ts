import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { buildRequest, type RequestSpec } from "../runner/http/request.ts"

/** The URL as `URL`'s setters write it: the way request building worked before it parsed once. */
const throughSetters = (
  base: string,
  path: string,
  query: ReadonlyArray<readonly [string, string]>,
  authQuery: ReadonlyArray<readonly [string, string]>,
): string => {
  const url = new URL(base)
  url.pathname = `${url.pathname.replace(/\/$/, "")}/${path.replace(/^\//, "")}`
  for (const [name, value] of [...query, ...authQuery]) url.searchParams.set(name, value)
  return url.href
}

const built = (base: string, spec: RequestSpec, key = "k-1234") => {
  const result = buildRequest(spec, [{ in: "query", name: "api_key", value: "${credentials.apiKey}" }], {
    baseUrl: new URL(base),
    credentials: { apiKey: Redacted.make(key) },
    settings: { account: "acme corp?#x" },
    now: new Date("2026-12-07T00:00:00Z"),
  })
  if (Either.isLeft(result)) throw result.left
  return result.right.url
}

describe("a request's URL, parsed once", () => {
  const bases = [
    "https://api.example.com",
    "https://api.example.com/",
    "https://api.example.com/v2",
    "https://api.example.com:8443/v2/",
    "https://api.example.com/v2?tenant=a%20b&x=1",
    "http://127.0.0.1:4010/activtrak",
  ]
  const paths = [
    "/users",
    "users",
    "/",
    "",
    "/a b/c",
    "/a?b#c",
    "/trailing ",
    "/tab\there/line\nbreak\r",
    "/\u0000nul/\u007fdel/\u001fus",
    "/%2e%2e/x",
    "/../up",
    "/café/日本",
    "/a\\b",
    "/q?already=1",
    "/{x}",
  ]
  const queries: ReadonlyArray<ReadonlyArray<readonly [string, string]>> = [
    [],
    [["from", "2026-12-01"]],
    [
      ["x", "2"],
      ["space", "a b+c&d=e"],
      ["tenant", "replaced"],
    ],
  ]

  it("is the URL the setters wrote, for odd paths, bases and queries", () => {
    let compared = 0
    for (const base of bases) {
      for (const path of paths) {
        for (const query of queries) {
          const url = built(base, { path, literal: { query: Object.fromEntries(query) } })
          expect(url.href, `${base} + ${JSON.stringify(path)}`).toBe(
            throughSetters(base, path, query, [["api_key", "k-1234"]]),
          )
          compared++
        }
      }
    }
    expect(compared).toBe(bases.length * paths.length * queries.length)
  })

  it("keeps the base URL's query as it was written when nothing is added to it", () => {
    const result = buildRequest({ path: "/x" }, [], {
      baseUrl: new URL("https://api.example.com/v2?tenant=a%20b"),
      credentials: {},
      settings: {},
      now: new Date(),
    })
    expect(Either.isRight(result) && result.right.url.href).toBe("https://api.example.com/v2/x?tenant=a%20b")
  })

  it("escapes a templated setting in the path, so it cannot start a query or fragment", () => {
    const url = built("https://api.example.com", { path: "/accounts/${settings.account}/users" })
    expect(url.pathname).toBe("/accounts/acme%20corp%3F%23x/users")
    expect(url.search).toBe("?api_key=k-1234")
    expect(url.hash).toBe("")
  })

  it("lets a later value of one name replace an earlier one: the credential's over the definition's", () => {
    const url = built("https://api.example.com", { path: "/x", query: { api_key: "from-definition" } }, "real-key")
    expect(url.searchParams.getAll("api_key")).toEqual(["real-key"])
  })
})
