/** The committed customer pages are what the definitions generate today. */
import { describe, expect, it } from "vitest"
import { cli } from "./support/cli.ts"

describe("docs/connectors", () => {
  it("is current: keyway docs --check passes (run `npm run docs` if this fails)", async () => {
    const result = await cli(["docs", "--check"])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
  })
})
