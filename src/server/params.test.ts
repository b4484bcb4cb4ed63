import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { encodeCursor, QueryParams } from "./params.ts";

const q = (search: string) => new QueryParams(`http://127.0.0.1/x?${search}`);
const problemOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message, hint: (error as { hint: string }).hint };
  }
  throw new Error("no error");
};

describe("QueryParams", () => {
  test("limit is 1..max, its default when absent; anything else says what and how", () => {
    expect(q("").limit(500, 50)).toBe(50);
    expect(q("limit=500").limit(500, 50)).toBe(500);
    for (const bad of ["0", "501", "-1", "1.5", "abc", "1e2", " 5"]) {
      expect(problemOf(() => q(`limit=${encodeURIComponent(bad)}`).limit(500, 50))).toMatchObject({ code: "E_QUERY", message: expect.stringContaining("limit must be 1..500") });
    }
  });

  test("a word from a fixed set, a bounded text, a time range with since before until", () => {
    expect(q("status=open").oneOf("status", ["open", "resolved"])).toBe("open");
    expect(problemOf(() => q("status=Open").oneOf("status", ["open", "resolved"])).message).toBe('status must be one of open, resolved, not "Open"');
    expect(q("q=").text("q")).toBeUndefined();
    expect(problemOf(() => q(`q=${"x".repeat(201)}`).text("q", 200)).message).toBe("q is longer than 200 characters");
    expect(q("since=5&until=6").range()).toEqual({ since: 5, until: 6 });
    expect(problemOf(() => q("since=6&until=6").range()).message).toBe("since (6) must be before until (6)");
    expect(problemOf(() => q("until=yesterday").range()).message).toContain("until must be an integer 0..");
  });

  test("a cursor reads back only for its own list, whatever a client sends instead", () => {
    const valid = (c: Record<string, unknown>) => (typeof c.before === "number" ? c.before : undefined);
    expect(q(`cursor=${encodeCursor("incidents", { before: 41 })}`).cursor("incidents", valid)).toBe(41);
    expect(q("").cursor("incidents", valid)).toBeUndefined();
    expect(problemOf(() => q(`cursor=${encodeCursor("runs", { before: 41 })}`).cursor("incidents", valid)).code).toBe("E_QUERY");
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60 }), (junk) => {
        const read = () => q(`cursor=${encodeURIComponent(junk)}`).cursor("incidents", valid);
        // Either a number the list gave out could hold, or a 400: never a throw of another kind.
        try {
          expect(typeof read()).toBe("number");
        } catch (error) {
          expect((error as { code?: string }).code).toBe("E_QUERY");
        }
      }),
    );
  });
});
