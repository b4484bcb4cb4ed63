import { describe, expect, test } from "bun:test";
import { jsonErrorOffset, parseVarOptions } from "./vars.ts";

describe("parseVarOptions", () => {
  test("--var is text exactly as typed; --var-json gives numbers, booleans, lists, objects and null", () => {
    const vars = parseVarOptions({ var: ["version=1.10", "mode=0755", "flag=true", "empty=", "eq=a=b"], varJson: ["n=3", "ratio=1.5", "on=false", 'zones=["a","b"]', 'db={"port":5432}', "none=null"] });
    expect(vars).toEqual({ version: "1.10", mode: "0755", flag: "true", empty: "", eq: "a=b", n: 3, ratio: 1.5, on: false, zones: ["a", "b"], db: { port: 5432 }, none: null });
  });

  test("a JSON error names the flag and the position in the value", () => {
    expect(() => parseVarOptions({ varJson: ["zones=[1,2"] })).toThrow(/invalid JSON in --var-json zones=\[1,2: unexpected end at position 5 of the value/);
    expect(() => parseVarOptions({ varJson: ['db={"port":5432,}'] })).toThrow(/unexpected "}" at position 14 of the value\n  db=\{"port":5432,\}\n {18}\^/);
    try {
      parseVarOptions({ varJson: ["name=web"] });
    } catch (error) {
      expect((error as { hint: string }).hint).toContain("for text use --var name=web");
      expect((error as { exitCode: number }).exitCode).toBe(64);
    }
    expect(() => parseVarOptions({ varJson: ["name=web"] })).toThrow(/unexpected "w" at position 1/);
  });

  test("a name without = or set by both flags is a usage error", () => {
    expect(() => parseVarOptions({ var: ["version"] })).toThrow(/invalid --var "version"/);
    expect(() => parseVarOptions({ var: ["=1"] })).toThrow(/invalid --var "=1"/);
    expect(() => parseVarOptions({ var: ["n=3"], varJson: ["n=3"] })).toThrow(/set by both --var and --var-json/);
    expect(parseVarOptions({ var: ["n=1", "n=2"] })).toEqual({ n: "2" });
  });
});

describe("jsonErrorOffset", () => {
  test("points at the first character that cannot continue a JSON value", () => {
    expect(jsonErrorOffset('{"a": [1, 2.5e3, true, null, "x\\u00e9"]}')).toBe(-1);
    expect(jsonErrorOffset("1.")).toBe(1);
    expect(jsonErrorOffset("01")).toBe(1);
    expect(jsonErrorOffset("tru")).toBe(0);
    expect(jsonErrorOffset('"a\\x"')).toBe(3);
    expect(jsonErrorOffset("[1 2]")).toBe(3);
    expect(jsonErrorOffset("")).toBe(0);
  });

  // Generated inputs, with JSON.parse as the oracle: valid values and their
  // one-character mutations must be judged alike.
  test("agrees with JSON.parse on generated values and their mutations", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const generate = (depth: number): string => {
      const kind = depth > 3 ? pick(["n", "s", "w"]) : pick(["n", "s", "w", "a", "o"]);
      if (kind === "n") return pick(["0", "-1", "3.25", "1e9", "-0.5E-2", "12"]);
      if (kind === "s") return pick(['""', '"a b"', '"\\n\\"\\\\"', '"\\u00e9"', '"é"']);
      if (kind === "w") return pick(["true", "false", "null"]);
      const n = Math.floor(random() * 3);
      const items = Array.from({ length: n }, () => generate(depth + 1));
      return kind === "a" ? `[${items.join(pick([",", " , "]))}]` : `{${items.map((v, i) => `"k${i}"${pick([":", " : "])}${v}`).join(",")}}`;
    };
    const alphabet = ['"', "\\", "{", "}", "[", "]", ",", ":", "1", ".", "e", "-", " ", "t", "u", "x", "\n", "\u0001"];
    let checked = 0;
    for (let n = 0; n < 3000; n++) {
      const valid = generate(0);
      const at = Math.floor(random() * (valid.length + 1));
      const op = pick(["insert", "delete", "replace", "keep"]);
      const text = op === "keep" ? valid : op === "insert" ? valid.slice(0, at) + pick(alphabet) + valid.slice(at) : op === "delete" ? valid.slice(0, at) + valid.slice(at + 1) : valid.slice(0, at) + pick(alphabet) + valid.slice(at + 1);
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      const offset = jsonErrorOffset(text);
      expect({ text, valid: offset < 0 }).toEqual({ text, valid: parses });
      if (offset >= 0) expect(offset).toBeLessThanOrEqual(text.length);
      checked++;
    }
    expect(checked).toBe(3000);
  });
});
