/**
 * The conformance kit: a standard suite for every definition in a folder, with no per-file test
 * code. A connector with a hand-written fake runs the standard scenarios against it; every
 * connector runs them, and each of its error rules, against a generic fake derived from its
 * definition alone (a hand-written fake cannot be told to answer an arbitrary rule's trigger).
 */
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { statusMatches } from "../../core/classify.ts"
import type { ConnectorDefinition } from "../../core/definition.ts"
import { formatProblem } from "../../core/load.ts"
import { defaultOutcomeForStatus } from "../../core/outcomes.ts"
import { sampleCredential } from "../../core/samples.ts"
import { derivedFakeInput } from "../../fixtures/generic-fake.ts"
import { loadConnectorDir } from "../../runner/catalog/catalog.ts"
import { testCredentials } from "../../runner/check/check.ts"
import { createKeyway, InvalidInput, type Keyway } from "../../runner/library/index.ts"
import { SANDBOX_VENDORS, type Sandbox, startSandbox } from "../../runner/sandbox/server.ts"
import { checkServices } from "./services.ts"
import { inVirtualTime } from "./virtual-time.ts"

/** What one fake needs to act out each standard scenario. */
interface Driver {
  readonly name: string
  readonly valid: () => Record<string, string>
  /** The settings every scenario is run with: a derived fake's samples for required settings. */
  readonly settings: Record<string, string>
  readonly wrong: () => Record<string, string>
  readonly throttledOnce: () => Record<string, string>
  readonly throttledBeyondBudget: () => Record<string, string>
  readonly serverError: () => Record<string, string>
  readonly requests: () => number
  readonly keyway: () => Keyway
  readonly sandboxUrl: () => string
}

/**
 * The required credentials, each from `valueFor`, except the last required secret, which carries the
 * scenario (for TrackVia, the auth token; the account key stays valid).
 */
const withScenario = (
  definition: ConnectorDefinition,
  valueFor: (key: string) => string,
  scenario: string | undefined,
): Record<string, string> => {
  const required = definition.credentials.filter((c) => c.required ?? true)
  const carrier = [...required].reverse().find((c) => c.secret) ?? required.at(-1)
  return Object.fromEntries(
    required.map((c) => [c.key, c.key === carrier?.key && scenario !== undefined ? scenario : valueFor(c.key)]),
  )
}

/** The outcomes a bare 401 may give: the 401 rules', or the default table's. */
const outcomesOf401 = (definition: ConnectorDefinition): string[] => {
  const rules = definition.errors.rules.filter((rule) => statusMatches(rule.status, 401))
  return rules.length > 0 ? rules.map((rule) => rule.outcome) : [defaultOutcomeForStatus(401)]
}

let unique = 0

export const registerConformanceSuite = (dir: string, label: string): void => {
  const results = loadConnectorDir(dir)
  const definitions = results.flatMap((r) => (r.definition ? [r.definition] : []))

  describe(`conformance of ${label}`, () => {
    let handwritten: Sandbox
    let generic: Sandbox
    let handwrittenKeyway: Keyway
    let genericKeyway: Keyway
    beforeAll(async () => {
      handwritten = await startSandbox()
      generic = await startSandbox({ handwritten: false, generic: definitions })
      handwrittenKeyway = createKeyway({ definitions, sandboxUrl: handwritten.url })
      genericKeyway = createKeyway({ definitions, sandboxUrl: generic.url })
    })
    afterAll(async () => {
      await handwrittenKeyway.close()
      await genericKeyway.close()
      await handwritten.stop()
      await generic.stop()
    })

    it("every definition loads with no findings", () => {
      expect(results.flatMap((r) => r.problems).map(formatProblem)).toEqual([])
    })

    for (const definition of definitions) {
      const handDriver = (): Driver => {
        const scenario = (key: string) => withScenario(definition, () => "sandbox-valid", key)
        return {
          name: "its hand-written fake",
          settings: {},
          valid: () => scenario("sandbox-valid"),
          wrong: () => scenario("sandbox-invalid"),
          throttledOnce: () => scenario(`sandbox-429-retry-after-1-c${++unique}`),
          throttledBeyondBudget: () => scenario(`sandbox-429-always-c${++unique}`),
          serverError: () => scenario(`sandbox-500-1-c${++unique}`),
          requests: () => [...handwritten.state.statusCounts.values()].reduce((a, b) => a + b, 0),
          keyway: () => handwrittenKeyway,
          sandboxUrl: () => handwritten.url,
        }
      }
      const genericDriver = (): Driver => {
        const control = () => generic.generic[definition.id] as NonNullable<Sandbox["generic"][string]>
        const known = derivedFakeInput(definition).credentials
        const good = () => withScenario(definition, (key) => known[key] ?? "", undefined)
        const inMode = (mode: NonNullable<Sandbox["generic"][string]>["mode"]) => {
          control().mode = mode
          return good()
        }
        const carrier = [...definition.credentials.filter((c) => c.required ?? true)].reverse().find((c) => c.secret)
        return {
          name: "a fake derived from the definition",
          settings: derivedFakeInput(definition).settings,
          valid: () => inMode({ kind: "normal" }),
          wrong: () => ({
            ...inMode({ kind: "normal" }),
            ...(carrier ? { [carrier.key]: sampleCredential(definition, carrier, 1) ?? "" } : {}),
          }),
          throttledOnce: () => inMode({ kind: "throttle", times: 1, retryAfter: "1" }),
          throttledBeyondBudget: () => inMode({ kind: "throttle", times: 1_000, retryAfter: "3600" }),
          serverError: () => inMode({ kind: "status", status: 500 }),
          requests: () => control().requests,
          keyway: () => genericKeyway,
          sandboxUrl: () => generic.url,
        }
      }

      const drivers = definition.id in SANDBOX_VENDORS ? [handDriver, genericDriver] : [genericDriver]
      for (const makeDriver of drivers) {
        describe(`${definition.id} against ${makeDriver === handDriver ? "its hand-written fake" : "a fake derived from its definition"}`, () => {
          let driver: Driver
          beforeAll(() => {
            driver = makeDriver()
          })
          const test = (credentials: Record<string, string>) =>
            driver.keyway().test({ connectorId: definition.id, credentials, settings: driver.settings })
          /** The same check in virtual time, so the vendor's waits cost nothing real. */
          const testInVirtualTime = (credentials: Record<string, string>) =>
            Effect.runPromise(
              inVirtualTime(
                testCredentials(definition, {
                  connectorId: definition.id,
                  credentials,
                  settings: driver.settings,
                }).pipe(Effect.provide(checkServices(driver.sandboxUrl(), { definitions }))),
              ),
            )

          it("a valid credential gives connected", async () => {
            expect((await test(driver.valid())).verdict.outcome).toBe("connected")
          })

          it("a wrong credential gives the definition's 401 outcome", async () => {
            const { verdict } = await test(driver.wrong())
            expect(verdict.httpStatus).toBe(401)
            expect(outcomesOf401(definition)).toContain(verdict.outcome)
          })

          it("one 429 with Retry-After, then success, gives connected after 2 attempts", async () => {
            const result = await testInVirtualTime(driver.throttledOnce())
            expect(result.verdict.outcome).toBe("connected")
            expect(result.attempts.slice(0, 2)).toMatchObject([
              { status: 429, waitSetBy: "retry-after-seconds" },
              { status: 200 },
            ])
          })

          it("a 429 beyond the save & test budget gives rate_limited with retryAfter", async () => {
            // A fresh Keyway: the vendor's hour-long wait holds back every later check with this key.
            const fresh = createKeyway({ definitions, sandboxUrl: driver.sandboxUrl() })
            try {
              const result = await fresh.test({
                connectorId: definition.id,
                credentials: driver.throttledBeyondBudget(),
                settings: driver.settings,
              })
              expect(result.verdict).toMatchObject({ outcome: "rate_limited", retryAfterSeconds: 3600 })
              expect(result.attempts).toHaveLength(1)
            } finally {
              await fresh.close()
            }
          })

          it("a 5xx gives server_error", async () => {
            expect((await test(driver.serverError())).verdict.outcome).toBe("server_error")
          })

          it("a missing credential field fails before any network call", async () => {
            const before = driver.requests()
            const credentials = driver.valid()
            const first = Object.keys(credentials)[0] as string
            const { [first]: _dropped, ...rest } = credentials
            await expect(test(rest)).rejects.toBeInstanceOf(InvalidInput)
            expect(driver.requests()).toBe(before)
          })

          it("a credential value with CR/LF is rejected before any network call", async () => {
            const before = driver.requests()
            const credentials = driver.valid()
            const first = Object.keys(credentials)[0] as string
            const error = await test({ ...credentials, [first]: `${credentials[first]}\r\nX-Injected: 1` }).catch(
              (e: unknown) => e,
            )
            expect(error).toBeInstanceOf(InvalidInput)
            expect((error as InvalidInput).problems.map((p) => p.field)).toContain(`credentials.${first}`)
            expect(driver.requests()).toBe(before)
          })

          if (makeDriver === genericDriver) {
            definition.errors.rules.forEach((rule, index) => {
              it(`error rule ${index + 1} (${JSON.stringify(rule.status)} → ${rule.outcome}) gives its outcome and message`, async () => {
                const credentials = driver.valid()
                const control = generic.generic[definition.id] as NonNullable<Sandbox["generic"][string]>
                control.mode = { kind: "rule", index }
                // A fresh Keyway: a throttling rule's trigger asks for a long wait, which would hold
                // back the next scenario's check with the same key.
                const fresh = createKeyway({ definitions, sandboxUrl: generic.url })
                const { verdict } = await fresh
                  .test({ connectorId: definition.id, credentials, settings: driver.settings })
                  .finally(() => fresh.close())
                expect(verdict.outcome).toBe(rule.outcome)
                expect(verdict.message.startsWith(rule.message)).toBe(true)
                expect(verdict.reason === `rule ${index + 1}` || verdict.outcome === "rate_limited").toBe(true)
              })
            })
          }
        })
      }
    }
  })
}
