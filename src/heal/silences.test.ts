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

  test("what RE2 lacks, and nested quantifiers, are refused; the length is bounded", () => {
    for (const re of ["(a+)+", "(a*)*b", "((ab)+c)*", "(x{2,})+", "(?=a)a", "(a)\\1", "[[:alpha:]]", "a(?s:.)"]) expect(() => compileRegex(re)).toThrow();
    for (const re of ["(api|web)-.*", "a+b+", "(ab)+", "(a|b)*c", "x{2,3}", "[(+*]+"]) expect(compileRegex(re)).toBeInstanceOf(RegExp);
    expect(() => compileRegex("a".repeat(1025))).toThrow("at most 1024 characters");
  });
});
