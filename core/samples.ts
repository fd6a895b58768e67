/**
 * Made-up values that pass a definition's own checks, for the sandbox's derived fakes, the conformance
 * kit and `keyway validate` (a base URL built from a customer's subdomain is checked with a sample).
 *
 * A value is the definition's first `examples:` entry, or one generated from its pattern by `randexp`.
 * Generation is seeded from the field itself, so the sandbox (one process) and a CLI user's connect
 * (another) agree on the value without talking to each other. Every value is checked with the same
 * code that checks a customer's input, so a sample never fails where a customer's value would pass.
 */
import RandExpModule from "randexp"
import type { ConnectorDefinition, Credential, Setting } from "./definition.ts"
import { checkCredentials, checkSettings } from "./fields.ts"

/** randexp is CommonJS whose `module.exports` is the class itself; its types describe an ES default export. */
const RandExp = RandExpModule as unknown as typeof RandExpModule.default
type RandExp = InstanceType<typeof RandExp>

/** A small seeded generator (mulberry32): the same field always yields the same values. */
const seeded = (seed: number) => {
  let state = seed >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const hash = (text: string): number => {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}

/** Values matching `pattern`, the same ones each time for the same seed text; none if randexp cannot read it. */
const generated = (pattern: string, seedText: string, count: number, maxRepeat: number): string[] => {
  let generator: RandExp
  try {
    generator = new RandExp(pattern)
  } catch {
    return []
  }
  generator.max = maxRepeat
  const random = seeded(hash(seedText))
  generator.randInt = (low: number, high: number) => low + Math.floor(random() * (high - low + 1))
  const values: string[] = []
  for (let i = 0; i < count; i++) values.push(generator.gen())
  return values
}

/** Fallbacks for a credential with no pattern and no examples: plain keys of common shapes. */
const PLAIN_KEYS = [
  "keywaySample7Q2m9Xz4Lp8Rt6Vb3Nc5Hd1",
  "4f9c2a7e1b8d6053c9e2a1f7b4d8e6c0",
  "1234567890123456789012345678901234567890",
  "KEYWAYSAMPLE7Q2M9XZ4LP8RT6VB3NC5HD1",
]

const fitLength = (text: string, min: number, max: number): string => {
  const length = Math.max(min, Math.min(max, 40))
  return text.repeat(Math.ceil(length / text.length)).slice(0, length)
}

const credentialCandidates = (credential: Credential): string[] => {
  const format = credential.format
  const fromPattern = format?.pattern
    ? generated(
        format.pattern,
        `credentials.${credential.key}:${format.pattern}`,
        40,
        Math.max(8, format.minLength ?? 0),
      )
    : []
  const plain = PLAIN_KEYS.flatMap((key) => {
    const base = fitLength(key, format?.minLength ?? 1, format?.maxLength ?? 64)
    return [base, `${base.slice(0, -1)}${base.at(-1) === "1" ? "2" : "1"}`]
  })
  return [...(credential.examples ?? []), ...fromPattern, ...plain]
}

/**
 * A value this credential's checks accept: the first for `variant` 0, a different one for 1 (a
 * "wrong" key that still has the right format), or undefined when no candidate passes.
 */
export const sampleCredential = (
  definition: ConnectorDefinition,
  credential: Credential,
  variant = 0,
): string | undefined => {
  const alone = { ...definition, credentials: [credential] } as ConnectorDefinition
  const passing = [
    ...new Set(
      credentialCandidates(credential).filter(
        (value) => checkCredentials(alone, { [credential.key]: value }).length === 0,
      ),
    ),
  ]
  return passing[variant]
}

/** A value for every credential of the definition (optional ones included) that has one. */
export const sampleCredentials = (definition: ConnectorDefinition): Record<string, string> =>
  Object.fromEntries(
    definition.credentials.flatMap((c) => {
      const value = sampleCredential(definition, c)
      return value === undefined ? [] : [[c.key, value]]
    }),
  )

const settingCandidates = (setting: Setting): string[] => {
  const fromPattern = setting.pattern
    ? generated(setting.pattern, `settings.${setting.key}:${setting.pattern}`, 40, 8)
    : []
  const byType: Record<Setting["type"], string[]> = {
    enum: (setting.options ?? []).map((o) => o.value),
    url: ["https://keyway-sample.example.com"],
    host: ["keyway-sample.example.com"],
    string: ["keyway-sample"],
  }
  return [...(setting.examples ?? []), ...fromPattern, ...byType[setting.type]]
}

/** A value this setting's checks accept, or undefined when no candidate passes. */
export const sampleSetting = (definition: ConnectorDefinition, setting: Setting): string | undefined => {
  if (setting.default !== undefined) return setting.default
  const alone = { ...definition, settings: [setting] } as ConnectorDefinition
  return settingCandidates(setting).find((value) => checkSettings(alone, { [setting.key]: value }).length === 0)
}

/**
 * The settings a sandbox connection needs: a sample for each required setting with no default. The
 * others are left to their defaults, as a customer would.
 */
export const sampleSettings = (definition: ConnectorDefinition): Record<string, string> =>
  Object.fromEntries(
    (definition.settings ?? []).flatMap((setting) => {
      if (!setting.required || setting.default !== undefined) return []
      const value = sampleSetting(definition, setting)
      return value === undefined ? [] : [[setting.key, value]]
    }),
  )
