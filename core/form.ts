/**
 * The connect form of a definition: one field per credential and setting, in the definition's order,
 * with the same format rules the server applies. The API returns it, and the form page renders it.
 */
import type { ConnectorDefinition, Credential, Setting } from "./definition.ts"

export interface FormField {
  readonly kind: "credential" | "setting"
  readonly key: string
  readonly label: string
  readonly description: string
  readonly input: "password" | "text" | "select" | "url"
  readonly secret: boolean
  readonly required: boolean
  readonly pattern?: string
  readonly hint?: string
  readonly minLength?: number
  readonly maxLength?: number
  readonly noWhitespace?: boolean
  readonly options?: ReadonlyArray<{ readonly value: string; readonly label: string }>
  readonly default?: string
  readonly example?: string
  readonly group?: string
}

export interface ConnectorForm {
  readonly id: string
  readonly name: string
  readonly category: string
  readonly docs?: { readonly api?: string | undefined; readonly credentials?: string | undefined }
  readonly prerequisites: ReadonlyArray<string>
  readonly steps: ReadonlyArray<string>
  readonly securityNotes: ReadonlyArray<string>
  readonly fields: ReadonlyArray<FormField>
}

const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

const credentialField = (credential: Credential): FormField => ({
  kind: "credential",
  key: credential.key,
  label: credential.label,
  description: credential.description,
  input: credential.secret ? "password" : "text",
  secret: credential.secret,
  required: credential.required ?? true,
  ...optional("pattern", credential.format?.pattern),
  ...optional("hint", credential.hint),
  ...optional("minLength", credential.format?.minLength),
  ...optional("maxLength", credential.format?.maxLength),
  ...optional("noWhitespace", credential.format?.noWhitespace),
  // A secret's example would teach customers to paste secrets where examples go: only others show one.
  ...optional("example", credential.secret ? undefined : credential.examples?.[0]),
  ...optional("group", credential.group),
})

const settingField = (setting: Setting): FormField => ({
  kind: "setting",
  key: setting.key,
  label: setting.label,
  description: setting.description,
  input: setting.type === "enum" ? "select" : setting.type === "url" ? "url" : "text",
  secret: false,
  required: (setting.required ?? false) && setting.default === undefined,
  ...optional("pattern", setting.pattern),
  ...optional("hint", setting.hint),
  ...optional("options", setting.options),
  ...optional("default", setting.default),
  ...optional("example", setting.examples?.[0]),
  ...optional("group", setting.group),
})

/** The definition's form: settings first (a region decides where the key is checked), then credentials, each by `order`. */
export const connectorForm = (definition: ConnectorDefinition): ConnectorForm => {
  const ordered = <T extends { readonly order?: number | undefined }>(items: ReadonlyArray<T>) =>
    items
      .map((item, index) => ({ item, index }))
      .sort((a, b) => (a.item.order ?? 1e9) - (b.item.order ?? 1e9) || a.index - b.index)
      .map(({ item }) => item)
  return {
    id: definition.id,
    name: definition.name,
    category: definition.category,
    ...optional("docs", definition.docs),
    prerequisites: definition.setup.prerequisites,
    steps: definition.setup.steps,
    securityNotes: definition.setup.securityNotes ?? [],
    fields: [
      ...ordered(definition.settings ?? []).map(settingField),
      ...ordered(definition.credentials).map(credentialField),
    ],
  }
}
