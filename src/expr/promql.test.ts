import { describe, expect, test } from "bun:test";
import { escapePromqlString, hasLoneSurrogate, promqlPlaceProblem, promqlStart, scanPromql } from "./promql.ts";
import { compileTemplate } from "./template.ts";

// What Prometheus makes of an escaped value is tested against Prometheus
// itself (test/promql.test.ts); these pin where a value may sit.
const place = (before: string) => scanPromql(before, promqlStart);

describe("where a value may sit in PromQL", () => {
  test("inside a double- or single-quoted string, a matcher's regex value marked as such", () => {
    expect(promqlPlaceProblem(place('up{job="'))).toBeUndefined();
    expect(place('up{job="').regex).toBe(false);
    expect(place("up{job='").quote).toBe("'");
    expect(place('up{job=~"').regex).toBe(true);
    expect(place('up{job !~ "').regex).toBe(true);
    expect(place('up{a=~"x", b="').regex).toBe(false);
    expect(place('label_replace(up, "a", "').regex).toBe(false);
  });

  test("outside strings, in comments, in raw strings and after a backslash it cannot", () => {
    expect(promqlPlaceProblem(place("up > "))?.reason).toContain("outside a string literal");
    expect(promqlPlaceProblem(place('up{job="a"} > '))?.reason).toContain("outside a string literal");
    expect(promqlPlaceProblem(place('up{job="a\\"b"} # note '))?.reason).toContain("comment");
    expect(promqlPlaceProblem(place("up # note\n"))?.reason).toContain("outside a string literal");
    expect(promqlPlaceProblem(place("up{job=`"))?.reason).toContain("raw string");
    expect(promqlPlaceProblem(place('up{job="\\'))?.reason).toContain("backslash");
    // A quote inside a string does not close a string of the other kind.
    expect(promqlPlaceProblem(place(`up{job="it's `))).toBeUndefined();
  });
});

describe("escapePromqlString", () => {
  test("escapes the backslash, the string's own quote and control characters, and nothing else", () => {
    expect(escapePromqlString('a"b\'c\\d', '"', false)).toBe('a\\"b\'c\\\\d');
    expect(escapePromqlString('a"b\'c', "'", false)).toBe("a\"b\\'c");
    expect(escapePromqlString("l1\nl2\r\t\x00\x7f", '"', false)).toBe("l1\\nl2\\r\\t\\x00\\x7f");
    expect(escapePromqlString("é ✓ 𝄞", '"', false)).toBe("é ✓ 𝄞");
  });

  test("in a regex value, RE2's metacharacters too, before the string's escapes", () => {
    expect(escapePromqlString(".*", '"', true)).toBe("\\\\.\\\\*");
    expect(escapePromqlString("a|b(c)[d]{e}^$+?\\", '"', true)).toBe("a\\\\|b\\\\(c\\\\)\\\\[d\\\\]\\\\{e\\\\}\\\\^\\\\$\\\\+\\\\?\\\\\\\\");
  });

  test("lone surrogates are found", () => {
    expect(hasLoneSurrogate("ok 𝄞")).toBe(false);
    expect(hasLoneSurrogate("\uD834")).toBe(true);
    expect(hasLoneSurrogate("x\uDD1E")).toBe(true);
  });
});

describe("a query template", () => {
  test("renders values escaped for the string each sits in", async () => {
    const template = await compileTemplate('rate(x{a="{{ vars.v }}", b=~\'{{ vars.v }}\'}[5m]) # {not a value}', "query", ["vars"], "promql");
    expect(template.render({ vars: { v: '"} or vector(1) #.*' } }, "promql")).toBe('rate(x{a="\\"} or vector(1) #.*", b=~\'"\\\\} or vector\\\\(1\\\\) #\\\\.\\\\*\'}[5m]) # {not a value}');
  });

  test("refuses a {{ }} outside a string when it compiles, naming line and column", async () => {
    await expect(compileTemplate("sum(x)\n  > {{ vars.v }}", "rules[0].promql.query", ["vars"], "promql")).rejects.toThrow("at line 2, column 5 of the query cannot hold a value safely");
  });
});
