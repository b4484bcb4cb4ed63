import { usageError } from "../errors.ts";
import { compileGlob, type Glob } from "../glob/index.ts";
import type { Target } from "./types.ts";

/*
 * Kubernetes label-selector syntax
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors):
 * `role=web`, `role==web`, `role!=db`, `zone in (a,b)`, `zone notin (a,b)`,
 * `role` (has the label), `!role` (lacks it); a comma means AND. Values may
 * be globs (`*`, `?`). Two keys are special: `name` is the target's name and
 * `group` matches when any of its groups does. As in Kubernetes, `!=` and
 * `notin` also match targets that lack the label. A backslash makes the next
 * character literal (`a\*` matches only "a*"): a value templated into a
 * selector is written that way, so it can never widen it.
 */

export type SelectorOperator = "=" | "!=" | "in" | "notin" | "exists" | "!exists";

export interface Requirement {
  key: string;
  operator: SelectorOperator;
  values: string[];
  /** Column (1-based) where the requirement starts, for messages. */
  column: number;
  patterns: Glob[];
}

export interface Selector {
  text: string;
  requirements: Requirement[];
}

const keyChar = /[A-Za-z0-9_./-]/;
const valueChar = /[A-Za-z0-9_.:/@+*?-]/;

export const selectorHint = "write requirements joined by commas, e.g. role=web,zone in (a,b),!canary";

export function parseSelector(text: string): Selector {
  const scanner = new Scanner(text);
  const requirements: Requirement[] = [];
  scanner.skipSpace();
  if (scanner.done()) return { text, requirements };
  for (;;) {
    requirements.push(scanner.requirement());
    scanner.skipSpace();
    if (scanner.done()) return { text, requirements };
    if (scanner.peek() !== ",") scanner.fail(`expected "," before "${text.slice(scanner.at, scanner.at + 12)}"`, "join requirements with commas (a comma means AND), e.g. role=web,zone=a");
    scanner.at++;
    scanner.skipSpace();
    if (scanner.done()) scanner.fail("expected a requirement after the comma", "remove the trailing comma");
  }
}

/** One pass over the selector text; each method reads one part of the grammar. */
class Scanner {
  at = 0;
  constructor(private readonly text: string) {}

  done = () => this.at >= this.text.length;
  peek = () => this.text[this.at];

  fail(what: string, hint = selectorHint, at = this.at): never {
    throw usageError("E_USAGE_SELECTOR", `invalid selector: ${what}\n  ${this.text}\n  ${" ".repeat(at)}^ column ${at + 1}`, hint);
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.peek()!)) this.at++;
  }

  read(allowed: RegExp): string {
    const start = this.at;
    while (!this.done() && allowed.test(this.peek()!)) this.at++;
    return this.text.slice(start, this.at);
  }

  /** `[!]key [op value | in|notin (values)]` */
  requirement(): Requirement {
    const column = this.at + 1;
    const negated = this.peek() === "!";
    if (negated) {
      this.at++;
      this.skipSpace();
    }
    const next = this.peek();
    const key = this.read(keyChar);
    if (!key) this.fail(next === undefined ? "expected a label key" : `expected a label key, found "${next}"`);
    this.skipSpace();
    const { operator, values } = negated ? this.absence(key) : this.operation(key);
    return { key, operator, values, column, patterns: values.map((value) => compileGlob(value, { escapes: "all" })) };
  }

  private absence(key: string): { operator: SelectorOperator; values: string[] } {
    if (!this.done() && this.peek() !== ",") this.fail(`"!${key}" takes no operator or value`, `use !${key} alone to select targets without the label, or ${key}!=VALUE`);
    return { operator: "!exists", values: [] };
  }

  private operation(key: string): { operator: SelectorOperator; values: string[] } {
    if (this.done() || this.peek() === ",") return { operator: "exists", values: [] };
    for (const [token, operator] of [["==", "="], ["!=", "!="], ["=", "="]] as const) {
      if (this.text.startsWith(token, this.at)) {
        this.at += token.length;
        return { operator, values: [this.value(`"${token}"`, false)] };
      }
    }
    const opAt = this.at;
    const word = this.read(/[a-z]/);
    if (word !== "in" && word !== "notin") this.fail(`expected =, ==, !=, in or notin after "${key}"`, `e.g. ${key}=web, ${key}!=db, ${key} in (a,b); to join requirements use a comma`, opAt);
    return { operator: word, values: this.set(key, word) };
  }

  /** `(a, b, c)` */
  private set(key: string, word: string): string[] {
    this.skipSpace();
    if (this.peek() !== "(") this.fail(`expected "(" after "${word}"`, `write a set in parentheses: ${key} ${word} (a,b)`);
    this.at++;
    const values: string[] = [];
    for (;;) {
      values.push(this.value(values.length === 0 ? '"("' : '","', true));
      this.skipSpace();
      const next = this.peek();
      this.at++;
      if (next === ")") return values;
      if (next !== ",") {
        this.at--;
        this.fail(next === undefined ? 'expected ")" to close the set' : `expected "," or ")" in the set, found "${next}"`, `write a set as ${key} ${word} (a,b)`);
      }
    }
  }

  /** A word or glob; may be empty after = and != (a label set to ""), as in Kubernetes. */
  private value(after: string, required: boolean): string {
    this.skipSpace();
    const start = this.at;
    while (!this.done()) {
      if (this.peek() === "\\" && this.at + 1 < this.text.length) this.at += 2;
      else if (valueChar.test(this.peek()!)) this.at++;
      else break;
    }
    const value = this.text.slice(start, this.at);
    const next = this.peek();
    if (!value && (next === undefined ? required : next !== "," || required)) {
      this.fail(next === undefined ? `expected a value after ${after}` : `unexpected "${next}" where a value belongs`, "values are words or globs such as web-* (letters, digits, - _ . : / @ + * ?)");
    }
    return value;
  }
}

function valuesOf(target: Pick<Target, "name" | "labels" | "groups">, key: string): string[] {
  if (key === "name") return [target.name];
  if (key === "group") return target.groups;
  const value = target.labels[key];
  return value === undefined ? [] : [value];
}

export function matches(target: Pick<Target, "name" | "labels" | "groups">, selector: Selector): boolean {
  return selector.requirements.every((requirement) => {
    const values = valuesOf(target, requirement.key);
    const any = () => values.some((value) => requirement.patterns.some((pattern) => pattern.test(value)));
    switch (requirement.operator) {
      case "exists":
        return values.length > 0;
      case "!exists":
        return values.length === 0;
      case "=":
      case "in":
        return any();
      case "!=":
      case "notin":
        return !any();
    }
  });
}

/** The targets a selector picks, in their order; the empty selector picks all. */
export function selectTargets<T extends Pick<Target, "name" | "labels" | "groups">>(targets: readonly T[], selectorText: string): T[] {
  const selector = parseSelector(selectorText);
  return targets.filter((target) => matches(target, selector));
}
