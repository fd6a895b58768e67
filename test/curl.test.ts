/**
 * The curl commands from the vendors' setup guides, run with the real curl binary against the
 * sandbox, with only the host changed. CI installs curl; without it these tests say why they skip.
 */
import { execFile, spawnSync } from "node:child_process"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../runner/sandbox/server.ts"

const hasCurl = spawnSync("curl", ["--version"]).status === 0
const curl = async (...args: string[]) => {
  const { stdout } = await promisify(execFile)("curl", ["--silent", "--show-error", "--max-time", "10", ...args])
  return stdout
}

describe.skipIf(!hasCurl)(
  `setup-guide curl commands against the sandbox${hasCurl ? "" : " (skipped: no curl binary on PATH)"}`,
  () => {
    let sandbox: Sandbox
    beforeAll(async () => {
      sandbox = await startSandbox({ records: 5 })
    })
    afterAll(() => sandbox.stop())

    it("ActivTrak: curl -H 'x-api-key: KEY' '<base>/reports/v2/workinghours/users?from=…&to=…'", async () => {
      const body = JSON.parse(
        await curl(
          "-H",
          "x-api-key: sandbox-valid",
          `${sandbox.baseUrls.activtrak}/reports/v2/workinghours/users?from=2026-01-01&to=2026-01-07`,
        ),
      )
      expect(body.total).toBe(5)
      expect(body.activity).toHaveLength(5)
    })

    it("ActivTrak with a revoked key: the documented 401 body", async () => {
      const out = await curl(
        "-w",
        "\n%{http_code}",
        "-H",
        "x-api-key: sandbox-revoked",
        `${sandbox.baseUrls.activtrak}/reports/v2/workinghours/users?from=2026-01-01&to=2026-01-07`,
      )
      const [body, status] = out.split("\n")
      expect(status).toBe("401")
      expect(JSON.parse(body ?? "")).toEqual({ messages: ["API key has been revoked"], success: false })
    })

    it("ActivityInfo: curl -u anything:YOUR_API_TOKEN <base>/resources/databases", async () => {
      const body = JSON.parse(
        await curl("-u", "anything:sandbox-valid", `${sandbox.baseUrls.activityinfo}/resources/databases`),
      )
      expect(body[0]).toMatchObject({ databaseId: expect.any(String), suspended: false })
    })

    it('PeopleTray: curl -H "X-API-Key: KEY" <base>/api/v2/powerbi/people', async () => {
      const body = JSON.parse(
        await curl("-H", "X-API-Key: sandbox-valid", `${sandbox.baseUrls.peopletray}/api/v2/powerbi/people`),
      )
      expect(Array.isArray(body)).toBe(true)
    })

    it("TrackVia: curl '<base>/openapi/views?user_key=KEY&access_token=TOKEN'", async () => {
      const body = JSON.parse(
        await curl(`${sandbox.baseUrls.trackvia}/openapi/views?user_key=sandbox-valid&access_token=sandbox-valid`),
      )
      expect(body[0]).toEqual({ id: 341, name: "All Contacts", applicationName: "CRM", default: true })
    })

    it('TrackVia: curl -H "Authorization: Bearer TOKEN" with an expired token', async () => {
      const out = await curl(
        "-w",
        "\n%{http_code}",
        "-H",
        "Authorization: Bearer sandbox-expired",
        `${sandbox.baseUrls.trackvia}/openapi/views?user_key=sandbox-valid`,
      )
      expect(out.split("\n")).toEqual([
        JSON.stringify({ error: "invalid_token", error_description: "Access token expired: sandbox-expired" }),
        "401",
      ])
    })
  },
)
