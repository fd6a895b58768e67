/**
 * Loading a connector file, as a pipeline that never stops at the first problem:
 *   1. parse the YAML document, keeping positions
 *   2. decode against the schema, collecting every error
 *   3. run the semantic lint rules
 *   4. return the definition, or every problem, each with its file:line:col
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml"
import { ConnectorDefinition } from "./definition.ts"
import { type FindingPath, lintDecodedParts, lintDefinition, PartUndecoded, type Severity } from "./lint.ts"
import { type LoadResult, MAX_DEFINITION_BYTES, type Problem, tooLarge } from "./problem.ts"

export { formatProblem, type LoadResult, type Problem } from "./problem.ts"

/** `auth[0].in`, `test.requests[1].query.from` */
export const formatPath = (path: FindingPath): string =>
  path.reduce<string>(
    (text, segment) => (typeof segment === "number" ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment),
    "",
  )

/**
 * The YAML node at `path`, or the deepest ancestor that exists. With `atKey`, a map entry's key node
 * is returned instead of its value, which is where "unknown key" errors belong.
 */
/** Each map's entries by key, built once per map: finding thousands of problems stays linear. */
const entriesByKey = new WeakMap<object, Map<string, { key: unknown; value: unknown }>>()
const entryOf = (map: { items: ReadonlyArray<{ key: unknown; value: unknown }> }, key: string) => {
  let entries = entriesByKey.get(map)
  if (!entries) {
    entries = new Map()
    for (const item of map.items) if (isScalar(item.key)) entries.set(String(item.key.value), item)
    entriesByKey.set(map, entries)
  }
  return entries.get(key)
}

const locateNode = (root: unknown, path: FindingPath, atKey: boolean): Node | undefined => {
  let node = root as Node | undefined
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1
    if (isMap(node)) {
      const pair = entryOf(node, String(segment))
      if (!pair) return node
      if (last && atKey && isScalar(pair.key)) return pair.key
      node = (pair.value ?? pair.key) as Node
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment]
      if (!item) return node
      node = item as Node
    } else {
      return node
    }
  }
  return node
}

/**
 * An optional field that fails inside reports twice: the real issue deep down, and "Expected
 * undefined" at every ancestor. Keep only issues that no deeper issue explains.
 */
const mostSpecific = <I extends { readonly path: ReadonlyArray<PropertyKey> }>(issues: ReadonlyArray<I>): I[] => {
  // Every proper prefix of every issue's path: an issue whose path is one of them is explained deeper down.
  const explained = new Set<string>()
  for (const issue of issues) {
    for (let length = 0; length < issue.path.length; length++) explained.add(pathKey(issue.path.slice(0, length)))
  }
  return issues.filter((issue) => !explained.has(pathKey(issue.path)))
}

const pathKey = (path: ReadonlyArray<PropertyKey>): string => JSON.stringify(path.map(String))

/**
 * A union reports one "Expected X, actual Y" per member, all at the same path. Merge them into one
 * "Expected A | B | C, actual Y"; "undefined" (from optional fields) is not worth offering.
 */
const mergeAlternatives = <I extends { readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>(
  issues: ReadonlyArray<I>,
): I[] => {
  const merged = new Map<string, { issue: I; expected: string[]; actual: string }>()
  const result: I[] = []
  for (const issue of issues) {
    const match = /^Expected (.+), actual (.+)$/s.exec(issue.message)
    const key = JSON.stringify(issue.path.map(String))
    const existing = merged.get(key)
    if (match?.[1] && match[2] !== undefined && existing && existing.actual === match[2]) {
      existing.expected.push(match[1])
      continue
    }
    if (match?.[1] && match[2] !== undefined && !existing) {
      merged.set(key, { issue, expected: [match[1]], actual: match[2] })
    }
    result.push(issue)
  }
  return result.map((issue) => {
    const entry = merged.get(JSON.stringify(issue.path.map(String)))
    if (!entry || entry.issue !== issue || entry.expected.length < 2) return issue
    const expected = entry.expected.filter((alternative) => alternative !== "undefined")
    return { ...issue, message: `Expected ${expected.join(" | ")}, actual ${entry.actual}` }
  })
}

/** Schema messages echo the actual value, which can be a whole subtree: keep its start only. */
const shorten = (message: string): string =>
  message.replace(/(, actual )(.{60}).+$/s, (_whole, lead: string, start: string) => `${lead}${start}...`)

/** Where every repeated key of every map in the document stands, found with one set per map. */
const duplicateKeys = (root: unknown): number[] => {
  const found: number[] = []
  const visit = (node: unknown): void => {
    if (isMap(node)) {
      const seen = new Set<unknown>()
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key
        if (seen.has(key)) found.push(isScalar(pair.key) ? (pair.key.range?.[0] ?? 0) : 0)
        seen.add(key)
        visit(pair.value)
      }
    } else if (isSeq(node)) for (const item of node.items) visit(item)
  }
  visit(root)
  return found
}

export const loadDefinitionText = (file: string, text: string): LoadResult => {
  if (Buffer.byteLength(text) > MAX_DEFINITION_BYTES) return tooLarge(file)
  const lineCounter = new LineCounter()
  // The yaml library's own duplicate-key check compares each key with every earlier one, which is
  // quadratic in a map's size; `duplicateKeys` below does the same check with a set per map.
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false })
  const position = (offset: number | undefined) => {
    const { line, col } = lineCounter.linePos(offset ?? 0)
    return { line, col }
  }
  const problemAt = (path: FindingPath, code: string, severity: Severity, message: string, atKey = false): Problem => ({
    file,
    ...position(locateNode(document.contents, path, atKey)?.range?.[0]),
    path: formatPath(path),
    code,
    severity,
    message,
  })

  // 1. YAML syntax: report every parser error, then stop; a broken tree cannot be decoded.
  const syntax = [
    ...document.errors.map((yamlError) => ({
      offset: yamlError.pos[0],
      message: yamlError.message.split("\n")[0] ?? yamlError.code,
    })),
    ...duplicateKeys(document.contents).map((offset) => ({ offset, message: "Map keys must be unique" })),
  ]
  if (syntax.length > 0) {
    return {
      file,
      definition: undefined,
      problems: syntax
        .sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0))
        .map(({ offset, message }) => ({
          file,
          ...position(offset),
          path: "",
          code: "yaml-syntax",
          severity: "error" as const,
          message,
        })),
    }
  }

  // 2. Schema: every error at once, unknown keys included. The yaml library refuses to expand too
  // many aliases (a "billion laughs" file would otherwise fill memory): that is a problem in the file.
  let tree: unknown
  try {
    tree = document.toJS({ maxAliasCount: 100 })
  } catch (error) {
    return {
      file,
      definition: undefined,
      problems: [
        {
          file,
          ...position(0),
          path: "",
          code: "yaml-aliases",
          severity: "error",
          message: `expands too many aliases (${error instanceof Error ? error.message : String(error)}); a definition needs none`,
        },
      ],
    }
  }
  const decoded = Schema.decodeUnknownEither(ConnectorDefinition, { errors: "all", onExcessProperty: "error" })(tree)
  const schemaProblems = Either.isRight(decoded)
    ? []
    : mergeAlternatives(mostSpecific(ParseResult.ArrayFormatter.formatErrorSync(decoded.left))).map((issue) => {
        // Paths into parsed YAML are strings and indexes; symbols cannot occur.
        const path = issue.path.map((segment) => (typeof segment === "number" ? segment : String(segment)))
        return issue._tag === "Unexpected"
          ? problemAt(path, "unknown-key", "error", "unknown key", true)
          : problemAt(path, "schema", "error", shorten(issue.message))
      })

  // 3. Semantic rules, on every part that decoded, so one run shows every problem; plus the one rule
  // that needs the file name.
  const definition = Either.isRight(decoded) ? decoded.right : undefined
  const findings = Either.isRight(decoded)
    ? lintDefinition(decoded.right)
    : lintDecodedParts(() => decodedParts(tree, ParseResult.ArrayFormatter.formatErrorSync(decoded.left)))
  const problems = [
    ...schemaProblems,
    ...findings.map((finding) => problemAt(finding.path, finding.code, finding.severity, finding.message)),
  ]
  const id = (tree as { id?: unknown } | null)?.id
  const expectedId = file.replace(/^.*\//, "").replace(/\.ya?ml$/, "")
  if (typeof id === "string" && id !== expectedId) {
    problems.unshift(problemAt(["id"], "id-mismatch", "error", `"${id}" does not match the file name "${expectedId}"`))
  }
  const failed = problems.some((problem) => problem.severity === "error")
  return { file, definition: failed ? undefined : definition, problems }
}

/**
 * The definition as written, for the semantic rules, where reading any value with a schema error
 * throws `PartUndecoded`. The schema transforms nothing, so every other value is what decoding gives.
 * Unknown keys are left out of it: they are reported, and no rule reads them.
 */
const decodedParts = (tree: unknown, issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>): ConnectorDefinition => {
  const broken = new Set(
    issues.filter((issue) => issue._tag !== "Unexpected").map((issue) => issue.path.map(String).join("\u0000")),
  )
  const guard = (value: unknown, path: ReadonlyArray<string>): unknown => {
    if (value === null || typeof value !== "object") return value
    return new Proxy(value, {
      get: (target, key, receiver) => {
        const found = Reflect.get(target, key, receiver)
        if (typeof key === "symbol") return found
        const at = [...path, key]
        if (broken.has(at.join("\u0000"))) throw new PartUndecoded(at.join("."))
        return guard(found, at)
      },
    })
  }
  if (broken.has("")) throw new PartUndecoded("the definition")
  return guard(tree ?? {}, []) as ConnectorDefinition
}
