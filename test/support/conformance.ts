/**
 * The conformance kit: a standard suite for every definition in a folder, with no per-file test
 * code. A connector with a hand-written fake runs the standard scenarios against it; every
 * connector runs them, and each of its error rules, against a generic fake derived from its
 * definition alone (a hand-written fake cannot be told to answer an arbitrary rule's trigger), and
 * syncs each of its report streams from that fake, at least one page of records each.
 * Those rule tests build the fake's answer from the rule they check; the responses a definition
 * quotes from the vendor's docs (`errors.examples`) check the rules against the vendor instead.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { statusMatches } from "../../core/classify.ts"
import type { ConnectorDefinition, ErrorExample, ReportStream } from "../../core/definition.ts"
import { checkExample } from "../../core/error-examples.ts"
import { formatProblem } from "../../core/load.ts"
import { defaultOutcomeForStatus } from "../../core/outcomes.ts"
import { sampleCredential } from "../../core/samples.ts"
import { derivedFakeInput } from "../../fixtures/generic-fake.ts"
import { loadConnectorDirNow } from "../../runner/catalog/load-now.ts"
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

/**
 * A response quoted in `errors.examples` gives the outcome (and code and scope, when given) it
 * expects: built into an observation as the engine builds one, then through the real classifier.
 */
export const expectExampleHolds = (definition: ConnectorDefinition, example: ErrorExample): void => {
  const { verdict, mismatches } = checkExample(definition, example)
  expect(mismatches, `${definition.id}: ${example.status} from ${example.source}: ${verdict.message}`).toEqual([])
}

/** The fakes a suite runs against, and a Keyway for each; the hand-written ones only when served. */
interface Fakes {
  readonly definitions: ReadonlyArray<ConnectorDefinition>
  readonly handwritten: Sandbox | undefined
  readonly handwrittenKeyway: Keyway | undefined
  readonly generic: Sandbox
  readonly genericKeyway: Keyway
}

const handDriverFor = (definition: ConnectorDefinition, fakes: () => Fakes): Driver => {
  const scenario = (key: string) => withScenario(definition, () => "sandbox-valid", key)
  return {
    name: "its hand-written fake",
    settings: {},
    valid: () => scenario("sandbox-valid"),
    wrong: () => scenario("sandbox-invalid"),
    throttledOnce: () => scenario(`sandbox-429-retry-after-1-c${++unique}`),
    throttledBeyondBudget: () => scenario(`sandbox-429-always-c${++unique}`),
    serverError: () => scenario(`sandbox-500-1-c${++unique}`),
    requests: () => [...(fakes().handwritten as Sandbox).state.statusCounts.values()].reduce((a, b) => a + b, 0),
    keyway: () => fakes().handwrittenKeyway as Keyway,
    sandboxUrl: () => (fakes().handwritten as Sandbox).url,
  }
}

const genericDriverFor = (definition: ConnectorDefinition, fakes: () => Fakes): Driver => {
  const control = () => fakes().generic.generic[definition.id] as NonNullable<Sandbox["generic"][string]>
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
    keyway: () => fakes().genericKeyway,
    sandboxUrl: () => fakes().generic.url,
  }
}

/** One standard scenario: it throws (a failed `expect`) when the definition does not conform. */
export interface ConformanceScenario {
  readonly name: string
  readonly run: () => Promise<void>
}

/** A value for each parameter a stream requires: its example, or a made-up one. */
const streamParams = (stream: ReportStream): Record<string, string> =>
  Object.fromEntries((stream.params ?? []).filter((p) => p.required).map((p) => [p.key, p.example ?? "conformance"]))

/**
 * The standard scenarios for one definition against one fake. Against a derived fake, also each
 * error rule, and each report stream: a sync of it gets at least one page of records.
 */
export const conformanceScenarios = (
  definition: ConnectorDefinition,
  kind: "handwritten" | "generic",
  driver: () => Driver,
  fakes: () => Fakes,
): ConformanceScenario[] => {
  const test = (credentials: Record<string, string>) =>
    driver().keyway().test({ connectorId: definition.id, credentials, settings: driver().settings })
  /** The same check in virtual time, so the vendor's waits cost nothing real. */
  const testInVirtualTime = (credentials: Record<string, string>) =>
    Effect.runPromise(
      inVirtualTime(
        testCredentials(definition, {
          connectorId: definition.id,
          credentials,
          settings: driver().settings,
        }).pipe(Effect.provide(checkServices(driver().sandboxUrl(), { definitions: fakes().definitions }))),
      ),
    )

  const scenarios: ConformanceScenario[] = [
    {
      name: "a valid credential gives connected",
      run: async () => {
        expect((await test(driver().valid())).verdict.outcome).toBe("connected")
      },
    },
    {
      name: "a wrong credential gives the definition's 401 outcome",
      run: async () => {
        const { verdict } = await test(driver().wrong())
        expect(verdict.httpStatus).toBe(401)
        expect(outcomesOf401(definition)).toContain(verdict.outcome)
      },
    },
    {
      name: "one 429 with Retry-After, then success, gives connected after 2 attempts",
      run: async () => {
        const result = await testInVirtualTime(driver().throttledOnce())
        expect(result.verdict.outcome).toBe("connected")
        expect(result.attempts.slice(0, 2)).toMatchObject([
          { status: 429, waitSetBy: "retry-after-seconds" },
          { status: 200 },
        ])
      },
    },
    {
      name: "a 429 beyond the save & test budget gives rate_limited with retryAfter",
      run: async () => {
        // A fresh Keyway: the vendor's hour-long wait holds back every later check with this key.
        const fresh = createKeyway({ definitions: fakes().definitions, sandboxUrl: driver().sandboxUrl() })
        try {
          const result = await fresh.test({
            connectorId: definition.id,
            credentials: driver().throttledBeyondBudget(),
            settings: driver().settings,
          })
          expect(result.verdict).toMatchObject({ outcome: "rate_limited", retryAfterSeconds: 3600 })
          expect(result.attempts).toHaveLength(1)
        } finally {
          await fresh.close()
        }
      },
    },
    {
      name: "a 5xx gives server_error",
      run: async () => {
        expect((await test(driver().serverError())).verdict.outcome).toBe("server_error")
      },
    },
    {
      name: "a missing credential field fails before any network call",
      run: async () => {
        const before = driver().requests()
        const credentials = driver().valid()
        const first = Object.keys(credentials)[0] as string
        const { [first]: _dropped, ...rest } = credentials
        await expect(test(rest)).rejects.toBeInstanceOf(InvalidInput)
        expect(driver().requests()).toBe(before)
      },
    },
    {
      name: "a credential value with CR/LF is rejected before any network call",
      run: async () => {
        const before = driver().requests()
        const credentials = driver().valid()
        const first = Object.keys(credentials)[0] as string
        const error = await test({ ...credentials, [first]: `${credentials[first]}\r\nX-Injected: 1` }).catch(
          (e: unknown) => e,
        )
        expect(error).toBeInstanceOf(InvalidInput)
        expect((error as InvalidInput).problems.map((p) => p.field)).toContain(`credentials.${first}`)
        expect(driver().requests()).toBe(before)
      },
    },
  ]
  if (kind !== "generic") return scenarios

  definition.errors.rules.forEach((rule, index) => {
    scenarios.push({
      name: `error rule ${index + 1} (${JSON.stringify(rule.status)} → ${rule.outcome}) gives its outcome and message`,
      run: async () => {
        const credentials = driver().valid()
        const { generic, definitions } = fakes()
        const control = generic.generic[definition.id] as NonNullable<Sandbox["generic"][string]>
        control.mode = { kind: "rule", index }
        // A fresh Keyway: a throttling rule's trigger asks for a long wait, which would hold
        // back the next scenario's check with the same key.
        const fresh = createKeyway({ definitions, sandboxUrl: generic.url })
        const { verdict } = await fresh
          .test({ connectorId: definition.id, credentials, settings: driver().settings })
          .finally(() => fresh.close())
        expect(verdict.outcome).toBe(rule.outcome)
        expect(verdict.message.startsWith(rule.message)).toBe(true)
        expect(verdict.reason === `rule ${index + 1}` || verdict.outcome === "rate_limited").toBe(true)
      },
    })
  })

  for (const stream of definition.reports ?? []) {
    scenarios.push({
      name: `stream ${stream.id} syncs at least one page of records`,
      run: async () => {
        const known = derivedFakeInput(definition).credentials
        const credentials = {
          ...driver().valid(),
          ...Object.fromEntries((stream.whenCredentials ?? []).map((key) => [key, known[key] ?? ""])),
        }
        const keyway = fakes().genericKeyway
        const { connection, result } = await keyway.connect({
          connectorId: definition.id,
          credentials,
          settings: driver().settings,
        })
        expect(result.verdict.outcome).toBe("connected")
        const records: unknown[] = []
        const summary = await keyway.sync({
          connectionId: connection?.id ?? "",
          streamId: stream.id,
          params: streamParams(stream),
          ...(stream.dateRange ? { from: "2026-01-01", to: "2026-01-02" } : {}),
          openSink: async () => ({
            describe: "memory",
            partial: undefined,
            write: async (_stream, page) => {
              records.push(...page.map((json) => JSON.parse(json)))
            },
            position: () => undefined,
            commit: async () => {},
            abort: async () => {},
          }),
        })
        expect(summary.pages).toBeGreaterThanOrEqual(1)
        expect(summary.records).toBeGreaterThanOrEqual(1)
        expect(records).toHaveLength(summary.records)
      },
    })
  }
  return scenarios
}

/** A Keyway with its own throwaway store, so a sync's connections and checkpoints stay in it. */
const conformanceKeyway = (definitions: ReadonlyArray<ConnectorDefinition>, sandboxUrl: string): Keyway =>
  createKeyway({
    definitions,
    sandboxUrl,
    store: { home: mkdtempSync(join(tmpdir(), "keyway-conformance-")), url: undefined, workspace: "conformance" },
    env: {},
  })

export interface ConformanceOptions {
  /**
   * The definitions the derived fakes are derived from, by id: the vendor as it really is, for
   * running a definition under test against it. By default, the definitions themselves.
   */
  readonly fakes?: ReadonlyArray<ConnectorDefinition>
}

export interface ConformanceFailure {
  readonly connector: string
  readonly scenario: string
  readonly error: string
}

/**
 * The standard scenarios of each definition against a derived fake, run here rather than registered
 * as tests: the failures, none when every definition conforms.
 */
export const runConformance = async (
  definitions: ReadonlyArray<ConnectorDefinition>,
  options: ConformanceOptions = {},
): Promise<ConformanceFailure[]> => {
  const generic = await startSandbox({ handwritten: false, generic: options.fakes ?? definitions })
  const genericKeyway = conformanceKeyway(definitions, generic.url)
  const fakes: Fakes = { definitions, handwritten: undefined, handwrittenKeyway: undefined, generic, genericKeyway }
  const failures: ConformanceFailure[] = []
  try {
    for (const definition of definitions) {
      const driver = genericDriverFor(definition, () => fakes)
      for (const scenario of conformanceScenarios(
        definition,
        "generic",
        () => driver,
        () => fakes,
      )) {
        try {
          await scenario.run()
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          failures.push({ connector: definition.id, scenario: scenario.name, error: message })
        }
      }
    }
  } finally {
    await genericKeyway.close()
    await generic.stop()
  }
  return failures
}

export const registerConformanceSuite = (dir: string, label: string): void => {
  const results = loadConnectorDirNow(dir)
  const definitions = results.flatMap((r) => (r.definition ? [r.definition] : []))

  describe(`conformance of ${label}`, () => {
    let fakes: Fakes
    beforeAll(async () => {
      const handwritten = await startSandbox()
      const generic = await startSandbox({ handwritten: false, generic: definitions })
      fakes = {
        definitions,
        handwritten,
        generic,
        handwrittenKeyway: createKeyway({ definitions, sandboxUrl: handwritten.url }),
        genericKeyway: conformanceKeyway(definitions, generic.url),
      }
    })
    afterAll(async () => {
      await fakes.handwrittenKeyway?.close()
      await fakes.genericKeyway.close()
      await fakes.handwritten?.stop()
      await fakes.generic.stop()
    })

    it("every definition loads with no findings", () => {
      expect(results.flatMap((r) => r.problems).map(formatProblem)).toEqual([])
    })

    for (const definition of definitions) {
      const examples = definition.errors.examples ?? []
      if (examples.length > 0) {
        describe(`${definition.id}'s error examples, quoted from the vendor`, () => {
          examples.forEach((example, index) => {
            it(`example ${index + 1} (${example.status} → ${example.outcome}, ${example.source})`, () => {
              expectExampleHolds(definition, example)
            })
          })
        })
      }

      const kinds = definition.id in SANDBOX_VENDORS ? (["handwritten", "generic"] as const) : (["generic"] as const)
      for (const kind of kinds) {
        describe(`${definition.id} against ${kind === "handwritten" ? "its hand-written fake" : "a fake derived from its definition"}`, () => {
          let driver: Driver
          beforeAll(() => {
            driver = (kind === "handwritten" ? handDriverFor : genericDriverFor)(definition, () => fakes)
          })
          for (const scenario of conformanceScenarios(
            definition,
            kind,
            () => driver,
            () => fakes,
          )) {
            it(scenario.name, scenario.run)
          }
        })
      }
    }
  })
}
