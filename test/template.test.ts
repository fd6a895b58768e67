import * as Either from "effect/Either"
import { describe, expect, it } from "vitest"
import { hostRefusal } from "../core/addresses.ts"
import { sandboxBaseUrl } from "../core/base-url.ts"
import { hostMatchesAllowList } from "../core/hosts.ts"
import { MissingTemplateValue, renderTemplate, templateReferences } from "../core/template.ts"

const now = new Date("2026-03-01T10:20:30Z")

describe("templates", () => {
  it("substitutes credentials, settings and date built-ins from the clock passed in", () => {
    const context = { credentials: { apiToken: "tok" }, settings: { region: "eu" }, now }
    expect(renderTemplate("Bearer ${credentials.apiToken}", context)).toBe("Bearer tok")
    expect(renderTemplate("${settings.region}:${today}:${yesterday}:${daysAgo7}", context)).toBe(
      "eu:2026-03-01:2026-02-28:2026-02-22",
    )
    expect(renderTemplate("${nowEpochMs}", context)).toBe(String(now.getTime()))
  })

  it("names a missing value without printing any other value", () => {
    const render = () => renderTemplate("${credentials.apiKey}", { credentials: {}, settings: {}, now })
    expect(render).toThrow(MissingTemplateValue)
    expect(render).toThrow("no value for ${credentials.apiKey}")
  })

  it("finds every reference, and flags an unclosed placeholder", () => {
    expect(templateReferences("${a.b} ${today} ${settings.x}")).toEqual({
      references: [
        { kind: "invalid", raw: "a.b" },
        { kind: "builtin", name: "today" },
        { kind: "scoped", namespace: "settings", key: "x" },
      ],
      unclosed: false,
    })
    expect(templateReferences("${settings.x").unclosed).toBe(true)
  })
})

describe("host allow-lists", () => {
  it("lets * stand for exactly one DNS label", () => {
    expect(hostMatchesAllowList("acme.trackvia.com", ["*.trackvia.com"])).toBe(true)
    expect(hostMatchesAllowList("ACME.TrackVia.com", ["*.trackvia.com"])).toBe(true)
    expect(hostMatchesAllowList("a.b.trackvia.com", ["*.trackvia.com"])).toBe(false)
    expect(hostMatchesAllowList("trackvia.com.evil.io", ["*.trackvia.com"])).toBe(false)
    expect(hostMatchesAllowList("apixactivtrak.com", ["api.activtrak.com"])).toBe(false)
  })

  it("knows loopback and private addresses", () => {
    for (const host of [
      "127.0.0.1",
      "10.1.2.3",
      "192.168.0.1",
      "172.20.0.1",
      "169.254.169.254",
      "[::1]",
      "localhost",
    ]) {
      expect(hostRefusal(host)).toBeDefined()
    }
    for (const host of ["8.8.8.8", "172.32.0.1", "example.org", "[2606:4700:4700::1111]"]) {
      expect(hostRefusal(host)).toBeUndefined()
    }
  })
})

describe("the sandbox override", () => {
  it("points a connector at the sandbox's prefix for it", () => {
    const resolved = sandboxBaseUrl("activtrak", "http://127.0.0.1:4010")
    expect(Either.isRight(resolved) && resolved.right.href).toBe("http://127.0.0.1:4010/activtrak")
    const ipv6 = sandboxBaseUrl("trackvia", "http://[::1]:4010/")
    expect(Either.isRight(ipv6) && ipv6.right.href).toBe("http://[::1]:4010/trackvia")
  })

  it("never sends credentials off the machine: only loopback sandbox URLs are accepted", () => {
    for (const url of [
      "https://api.activtrak.com",
      "http://10.0.0.5:4010",
      "http://127.0.0.1.evil.io",
      "file:///etc",
      "nonsense",
    ]) {
      const resolved = sandboxBaseUrl("activtrak", url)
      expect(Either.isLeft(resolved)).toBe(true)
    }
  })
})
