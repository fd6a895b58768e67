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
  // Plain loops, one array per step: every check's classification and every page's records come
  // through here, and flatMap's arrays and closures cost more than the walk itself.
  let current: unknown[] = [body]
  for (const { name, index } of stepsOf(path)) {
    const next: unknown[] = []
    for (const value of current) {
      if (name !== undefined) {
        if (value !== null && typeof value === "object" && !Array.isArray(value) && name in value) {
          next.push((value as Record<string, unknown>)[name])
        }
      } else if (Array.isArray(value)) {
        if (index === "*") {
          for (const item of value) next.push(item)
        } else {
          const item = value[Number(index)]
          if (item !== undefined) next.push(item)
        }
      }
    }
    current = next
  }
  return current
}

export type JsonType = "array" | "object" | "string" | "number" | "boolean"

export const jsonTypeOf = (value: unknown): JsonType | "null" | "undefined" =>
  value === null ? "null" : Array.isArray(value) ? "array" : (typeof value as JsonType | "undefined")
