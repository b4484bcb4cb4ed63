import { describe, expect, test } from "bun:test";
import { isOpsError } from "../errors.ts";
import { matches, parseSelector, selectTargets } from "./selector.ts";

const target = (name: string, labels: Record<string, string>, groups: string[] = []) => ({ name, labels, groups });
const fleet = [
  target("web-1", { role: "web", zone: "a" }, ["frontends", "prod"]),
  target("web-2", { role: "web", zone: "b", canary: "true" }, ["frontends", "prod"]),
  target("web-10", { role: "web", zone: "c" }, ["frontends"]),
  target("db-1", { role: "db", zone: "a" }, ["prod"]),
  target("bastion", { role: "bastion" }),
];
const names = (selector: string) => selectTargets(fleet, selector).map((t) => t.name);

function selectorError(text: string): { message: string; hint: string | undefined; exitCode: number } {
  try {
    parseSelector(text);
  } catch (error) {
    if (isOpsError(error)) return { message: error.message, hint: error.hint, exitCode: error.exitCode };
    throw error;
  }
  throw new Error(`"${text}" parsed`);
}

describe("selector operators", () => {
  test("the empty selector (or only spaces) matches every target", () => {
    expect(names("")).toHaveLength(5);
    expect(names("   ")).toHaveLength(5);
  });

  test("= and == select targets whose label equals the value", () => {
    expect(names("role=web")).toEqual(["web-1", "web-2", "web-10"]);
    expect(names("role==db")).toEqual(["db-1"]);
    expect(names("role = db")).toEqual(["db-1"]);
  });

  test("!= also selects targets that lack the label, as in Kubernetes", () => {
    expect(names("zone!=a")).toEqual(["web-2", "web-10", "bastion"]);
  });

  test("in and notin test set membership; notin also selects targets without the label", () => {
    expect(names("zone in (a,b)")).toEqual(["web-1", "web-2", "db-1"]);
    expect(names("zone in ( a , c )")).toEqual(["web-1", "web-10", "db-1"]);
    expect(names("zone notin (a,b)")).toEqual(["web-10", "bastion"]);
  });

  test("a bare key requires the label and !key requires its absence", () => {
    expect(names("canary")).toEqual(["web-2"]);
    expect(names("!canary")).toEqual(["web-1", "web-10", "db-1", "bastion"]);
    expect(names("! zone")).toEqual(["bastion"]);
  });

  test("a comma means AND", () => {
    expect(names("role=web,zone in (a,b),!canary")).toEqual(["web-1"]);
    expect(names("role=web, zone!=a")).toEqual(["web-2", "web-10"]);
  });

  test("values are globs: * for any run, ? for one character", () => {
    expect(names("name=web-*")).toEqual(["web-1", "web-2", "web-10"]);
    expect(names("name=web-?")).toEqual(["web-1", "web-2"]);
    expect(names("name in (db-*,bas*)")).toEqual(["db-1", "bastion"]);
    expect(names("name!=web-*")).toEqual(["db-1", "bastion"]);
  });

  test("glob metacharacters other than * and ? match literally", () => {
    const dotted = [target("a.b", {}), target("axb", {})];
    expect(selectTargets(dotted, "name=a.b").map((t) => t.name)).toEqual(["a.b"]);
  });

  test("name is the target's name and always present", () => {
    expect(names("name=db-1")).toEqual(["db-1"]);
    expect(names("name")).toHaveLength(5);
  });

  test("group matches when any of the target's groups matches", () => {
    expect(names("group=prod")).toEqual(["web-1", "web-2", "db-1"]);
    expect(names("group in (frontends)")).toEqual(["web-1", "web-2", "web-10"]);
    expect(names("group!=prod")).toEqual(["web-10", "bastion"]);
    expect(names("group=front*,group notin (prod)")).toEqual(["web-10"]);
    expect(names("!group")).toEqual(["bastion"]);
  });

  test("keys may carry a prefix as Kubernetes keys do", () => {
    const prefixed = [target("x", { "app.kubernetes.io/name": "shop" })];
    expect(matches(prefixed[0]!, parseSelector("app.kubernetes.io/name=shop"))).toBe(true);
  });
});

describe("malformed selectors are usage errors with a caret under the column", () => {
  test.each([
    ["role in (a,b", 12, 'expected ")" to close the set'],
    ["zone in a,b", 8, 'expected "(" after "in"'],
    ["=web", 0, 'expected a label key, found "="'],
    ["role=web,", 9, "expected a requirement after the comma"],
    ["role=web zone=a", 9, 'expected "," before "zone=a"'],
    ["role =~ web", 6, 'unexpected "~" where a value belongs'],
    ["role > 3", 5, 'expected =, ==, !=, in or notin after "role"'],
    ["!role=web", 5, '"!role" takes no operator or value'],
    ["zone in ()", 9, 'unexpected ")" where a value belongs'],
    ["role=web,,zone=a", 9, 'expected a label key, found ","'],
  ])("%p", (text, column, what) => {
    const error = selectorError(text);
    expect(error.exitCode).toBe(64);
    expect(error.message).toContain(what);
    const lines = error.message.split("\n");
    expect(lines[1]).toBe(`  ${text}`);
    expect(lines[2]).toBe(`  ${" ".repeat(column)}^ column ${column + 1}`);
    expect(error.hint).toBeTruthy();
  });
});

describe("escaped values are literal", () => {
  const fleet = ["*", "web-1", "web-2", "a,b", "db"].map((name) => ({ name, labels: {}, groups: [] as string[] }));
  test("a backslash makes a glob character match only itself", () => {
    expect(selectTargets(fleet, "name=\\*").map((t) => t.name)).toEqual(["*"]);
    expect(selectTargets(fleet, "name=web-\\?").map((t) => t.name)).toEqual([]);
    expect(selectTargets(fleet, "name=web-?").map((t) => t.name)).toEqual(["web-1", "web-2"]);
  });

  test("an escaped comma stays inside the value", () => {
    expect(selectTargets(fleet, "name=a\\,b").map((t) => t.name)).toEqual(["a,b"]);
  });

  test("any value escaped by the selector escape selects exactly the target of that name", async () => {
    const { escapeSelectorValue } = await import("../expr/index.ts");
    const names = ["*", "?", "web-*", "a,role=db", "x) , !y", "back\\slash", "sp ace", "é✓", ""];
    const all = names.map((name) => ({ name, labels: {}, groups: [] as string[] }));
    for (const name of names) {
      expect(selectTargets(all, `name=${escapeSelectorValue(name)}`).map((t) => t.name)).toEqual([name]);
    }
  });
});
