import { describe, expect, test } from "bun:test";
import { compileRegex, formatMatcher, matchersFromArgs, parseMatcher, parseMatchers, silenceMatches, validateMatchers } from "./silences.ts";

const m = (name: string, value: string, isRegex = false, isEqual = true) => ({ name, value, isRegex, isEqual });

describe("silence matchers: amtool's syntax", () => {
  test("the four operators, bare and quoted values, escapes as Alertmanager reads them", () => {
    expect(parseMatcher("alertname=ApiDown")).toEqual(m("alertname", "ApiDown"));
    expect(parseMatcher('service=~"api.*"')).toEqual(m("service", "api.*", true));
    expect(parseMatcher("env!=prod")).toEqual(m("env", "prod", false, false));
    expect(parseMatcher('job!~"a|b"')).toEqual(m("job", "a|b", true, false));
    expect(parseMatcher('msg="say \\"hi\\", then\\nleave \\\\ \\x"')).toEqual(m("msg", 'say "hi", then\nleave \\ \\x'));
    expect(parseMatcher('team=""')).toEqual(m("team", ""));
    expect(parseMatcher("team=")).toEqual(m("team", ""));
    expect(parseMatcher("  a  =  b c  ")).toEqual(m("a", "b c"));
    expect(() => parseMatcher('a="b')).toThrow("unescaped double quote");
    expect(() => parseMatcher('a=b"c')).toThrow("unescaped double quote");
    expect(() => parseMatcher("1a=b")).toThrow("bad matcher format");
    expect(() => parseMatcher("ab")).toThrow("bad matcher format");
  });

  test("a {…} group splits on commas outside quotes; one argument keeps its commas; a bare first word is the alertname", () => {
    expect(parseMatchers('{a="1, 2", b=~"x,y",c!=""}')).toEqual([m("a", "1, 2"), m("b", "x,y", true), m("c", "", false, false)]);
    expect(matchersFromArgs(["ApiDown", "service=a,b", '{env="prod"}'])).toEqual([m("alertname", "ApiDown"), m("service", "a,b"), m("env", "prod")]);
  });

  test("written back, a matcher parses to itself", () => {
    for (const matcher of [m("a", 'x "y", z\\'), m("b", "a\nb", true, false), m("c", "", false, false)]) expect(parseMatcher(formatMatcher(matcher))).toEqual(matcher);
  });

  test("at least one matcher must not match the empty string, as Alertmanager requires", () => {
    expect(() => validateMatchers([m("a", "")])).toThrow("must not match the empty string");
    expect(() => validateMatchers([m("a", ".*", true), m("b", "")])).toThrow("must not match the empty string");
    expect(() => validateMatchers([])).toThrow("at least one matcher");
    validateMatchers([m("a", "", false, false)]);
    validateMatchers([m("a", ".+", true)]);
  });
});

describe("silence matching", () => {
  test("regexes are anchored; a missing label is the empty string", () => {
    expect(silenceMatches([m("service", "api.*", true)], { service: "api-1" })).toBe(true);
    expect(silenceMatches([m("service", "api", true)], { service: "my-api-1" })).toBe(false);
    expect(silenceMatches([m("service", "a|b", true)], { service: "ab" })).toBe(false);
    expect(silenceMatches([m("team", "")], { alertname: "X" })).toBe(true);
    expect(silenceMatches([m("team", "", false, false)], { alertname: "X" })).toBe(false);
    expect(silenceMatches([m("env", "prod", false, false)], {})).toBe(true);
  });

  test("RE2's dot and \\s: a dot matches \\r but not \\n", () => {
    expect(silenceMatches([m("v", "a.b", true)], { v: "a\rb" })).toBe(true);
    expect(silenceMatches([m("v", "a.b", true)], { v: "a\nb" })).toBe(false);
    expect(silenceMatches([m("v", "a\\sb", true)], { v: "a\u00a0b" })).toBe(false);
    expect(silenceMatches([m("v", "(?i)API", true)], { v: "api" })).toBe(true);
  });

  test("what RE2 lacks is refused with Go's wording; the length and the repetition are bounded", () => {
    for (const [re, why] of [["(?=a)a", "invalid or unsupported Perl syntax: `(?=`"], ["(?<!a)b", "invalid named capture"], ["(a)\\1", "invalid escape sequence: `\\1`"], ["a**", "invalid nested repetition operator"], ["*a", "missing argument to repetition operator"], ["(a", "missing closing )"], ["a)", "unexpected )"], ["[a", "missing closing ]"], ["a{1001}", "invalid repeat count"], ["((a{1000}){1000})", "invalid repeat count"]] as const) {
      expect(() => compileRegex(re)).toThrow(why);
    }
    for (const re of ["(api|web)-.*", "(a+)+", "(a*)*b", "[[:alpha:]]+", "a(?s:.)", "\\pL+", "(?P<x>a)", "x{2,3}", "[(+*]+", "\\Q.*\\E"]) expect(typeof compileRegex(re).test).toBe("function");
    expect(() => compileRegex("a".repeat(1025))).toThrow("at most 1024 characters");
  });

  test("RE2's syntax, matched whole", () => {
    const cases: [string, string, boolean][] = [
      ["[[:alpha:]]+\\d", "abc1", true], ["[[:^digit:]]", "5", false], ["\\pL+", "éa", true], ["\\p{Greek}", "λ", true], ["\\PL", "a", false],
      ["\\Q.*\\E", ".*", true], ["\\Q.*\\E", "ab", false], ["(?i)a(?-i)B", "AB", true], ["(?i)a(?-i)B", "Ab", false], ["(?i:x)y", "Xy", true],
      ["a.c", "a\nc", false], ["(?s)a.c", "a\nc", true], ["\\x41\\x{1F600}", "A😀", true], ["[\\x41-\\x43]+", "ABC", true], ["\\bfoo\\b.*", "foo bar", true],
      ["(?m)a$\\n^b", "a\nb", true], ["a$\\nb", "a\nb", false], ["x{2,3}", "xxxx", false], ["x{2,}", "xxxx", true], ["a|", "", true], ["[]a]+", "]a", true], ["[^]a]", "b", true],
      ["\\s", "\u00a0", false], ["\\S", "\r", false], ["\\w+", "héllo", false], ["\\0101?", "\u0008", true], ["\\12", "\n", true], ["\\101", "A", true],
    ];
    for (const [re, value, want] of cases) expect({ re, value, got: compileRegex(re).test(value) }).toEqual({ re, value, got: want });
  });
});

describe("silence matching on untrusted label values", () => {
  test("hostile values are data: matched literally by = and never read as a pattern; a value that looks like a regex matches only itself", async () => {
    const { hostileValues, hostileNulValues } = await import("../../test/harness/hostile.ts");
    const values = [...hostileValues.map((h) => h.value), ...hostileNulValues, ".*", "(a+)+$", "[", "\\"];
    for (const value of values) {
      expect(silenceMatches([m("v", value)], { v: value })).toBe(true);
      expect(silenceMatches([m("v", value)], { v: `${value}x` })).toBe(false);
      expect(silenceMatches([m("v", "api.*", true)], { v: value })).toBe(value.startsWith("api") && !value.includes("\n"));
      // Round trip through amtool's syntax, as a silence author would quote it.
      const parsed = parseMatcher(formatMatcher(m("v", value)));
      if (!value.includes("\0")) expect(parsed.value).toBe(value);
    }
  });

  test("a long value is matched in one pass, also by the forms a backtracking engine takes exponential or cubic time on", () => {
    const long = `${"a".repeat(200_000)}!`;
    for (const re of ["a+b", "(a|b)*c", "a*a*a*c", "(a+)+b", "(a|aa)*c", "(ab)+", ".*.*.*x"]) expect(silenceMatches([m("v", re, true)], { v: long })).toBe(false);
    expect(silenceMatches([m("v", "a+!", true)], { v: long })).toBe(true);
  });
});
