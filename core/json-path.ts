/**
 * The small JSON path language definitions use: dot-separated names, `[n]` for an index, `[*]` for
 * every element, and `$` for the whole body. `select` returns every value the path reaches.
 */

const SEGMENT = /([^.[\]]+)|\[(\*|\d+)\]/g

export const select = (body: unknown, path: string): ReadonlyArray<unknown> => {
  if (path === "$" || path === "") return [body]
  let current: unknown[] = [body]
  for (const match of path.replace(/^\$\.?/, "").matchAll(SEGMENT)) {
    const [, name, index] = match
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
