/** The JSON path language of definitions: what `select` reaches, and what it does not. */
import { describe, expect, it } from "vitest"
import { select } from "../core/json-path.ts"

describe("select", () => {
  const body = {
    data: { items: [{ id: 1, tags: ["a", "b"] }, { id: 2 }, { id: 3, tags: [] }] },
    total: 3,
    "odd-name": null,
  }

  it("reaches names, indices and every element, as a list of the values found", () => {
    expect(select(body, "$")).toEqual([body])
    expect(select(body, "")).toEqual([body])
    expect(select(body, "total")).toEqual([3])
    expect(select(body, "$.data.items[1].id")).toEqual([2])
    expect(select(body, "data.items[*].id")).toEqual([1, 2, 3])
    expect(select(body, "data.items[*].tags[*]")).toEqual(["a", "b"])
    expect(select(body, "data.items[*].tags")).toEqual([["a", "b"], []])
  })

  it("a name present with null is found; a missing one, a wrong type or an index past the end is not", () => {
    expect(select(body, "odd-name")).toEqual([null])
    expect(select(body, "missing")).toEqual([])
    expect(select(body, "total.value")).toEqual([])
    expect(select(body, "data.items.id")).toEqual([])
    expect(select(body, "data.items[7]")).toEqual([])
    expect(select(body, "data[0]")).toEqual([])
    expect(select(null, "data")).toEqual([])
    expect(select([1, 2], "[*]")).toEqual([1, 2])
  })
})
