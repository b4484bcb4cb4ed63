import { describe, expect, test } from "bun:test";
import { couldMatch, globsOverlap, matchGlob } from "./globs.ts";

describe("matchGlob", () => {
  test("* is any run of characters, spaces and slashes included; ? is one character", () => {
    expect(matchGlob("journalctl *", "journalctl -u api --since '1 hour ago'")).toBe(true);
    expect(matchGlob("https://artifacts.internal/*", "https://artifacts.internal/api/1.4.3/api.tar.gz")).toBe(true);
    expect(matchGlob("systemctl restart api-?", "systemctl restart api-2")).toBe(true);
    expect(matchGlob("systemctl restart api-?", "systemctl restart api-12")).toBe(false);
    expect(matchGlob("*", "")).toBe(true);
    expect(matchGlob("a*b*c", "aXXbYYbZZc")).toBe(true);
    expect(matchGlob("a*b*c", "aXXbYYbZZ")).toBe(false);
  });

  test("matches the whole text, both trimmed", () => {
    expect(matchGlob("systemctl restart api", "  systemctl restart api\n")).toBe(true);
    expect(matchGlob("systemctl restart api", "systemctl restart api; rm -rf /")).toBe(false);
    expect(matchGlob("restart api", "systemctl restart api")).toBe(false);
    expect(matchGlob("rm -rf *", "rm -rf /var")).toBe(true);
  });

  test("\\* and \\? match themselves; other backslashes are literal", () => {
    expect(matchGlob("ls \\*.log", "ls *.log")).toBe(true);
    expect(matchGlob("ls \\*.log", "ls api.log")).toBe(false);
    expect(matchGlob("why\\?", "why?")).toBe(true);
    expect(matchGlob("grep 'a\\|b' *", "grep 'a\\|b' file")).toBe(true);
  });

  test("many stars against a long text stay fast", () => {
    const started = performance.now();
    expect(matchGlob("*a*a*a*a*a*a*a*a*a*b", "a".repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("policy globs against templates and each other", () => {
  test("an unrendered {{ }} template may render to anything", () => {
    expect(couldMatch("rm -rf *", "rm -rf {{ vars.dir }}/*")).toBe(true);
    expect(couldMatch("http://*", "{{ vars.base_url }}/health")).toBe(true);
    expect(couldMatch("systemctl restart *", "systemctl stop {{ vars.unit }}")).toBe(false);
    expect(couldMatch("rm -rf *", "echo {{ vars.x }}")).toBe(false);
  });

  test("two globs overlap when some text matches both", () => {
    expect(globsOverlap("psql *", "*DROP TABLE*")).toBe(true);
    expect(globsOverlap("*", "rm -rf *")).toBe(true);
    expect(globsOverlap("systemctl restart shop", "rm -rf *")).toBe(false);
    expect(globsOverlap("https://*", "http://*")).toBe(false);
  });
});
