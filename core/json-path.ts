/**
 * The small JSON path language definitions use: dot-separated names, `[n]` for an index, `[*]` for
 * every element, and `$` for the whole body. `select` returns every value the path reaches.
 */

const SEGMENT = /([^.[\]]+)|\[(\*|\d+)\]/g

/** A path's steps: a property name, an index, or every element (`*`). */
type Step =
  | { readonly name: string; readonly index?: undefined }
  | { readonly name?: undefined; readonly index: string }

/** Paths come only from definitions: each is parsed once, on first use. */
const parsed = new Map<string, ReadonlyArray<Step>>()

const stepsOf = (path: string): ReadonlyArray<Step> => {
  let steps = parsed.get(path)
  if (!steps) {
    steps = [...path.replace(/^\$\.?/, "").matchAll(SEGMENT)].map(([, name, index]) =>
      name !== undefined ? { name } : { index: index ?? "*" },
    )
    parsed.set(path, steps)
  }
  return steps
}

export const select = (body: unknown, path: string): ReadonlyArray<unknown> => {
  if (path === "$" || path === "") return [body]
  let current: unknown[] = [body]
  for (const { name, index } of stepsOf(path)) {
    current = current.flatMap((value): unknown[] => {
      if (name !== undefined) {
        return value !== null && typeof value === "object" && !Array.isArray(value) && name in value
          ? [(value as Record<string, unknown>)[name]]
          : []
      }
      if (!Array.isArray(value)) return []
      if (index === "*") return value
      const item = value[Number(index)]
      return item === undefined ? [] : [item]
    })
  }
  return current
}

export type JsonType = "array" | "object" | "string" | "number" | "boolean"

export const jsonTypeOf = (value: unknown): JsonType | "null" | "undefined" =>
  value === null ? "null" : Array.isArray(value) ? "array" : (typeof value as JsonType | "undefined")
