import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, visit, type Document, type Node } from "yaml";
import type { z } from "zod";
import { configError, OpsError } from "../errors.ts";
import { isSecretField } from "./secret.ts";

export type ConfigPath = readonly (string | number)[];

export interface Located<T> {
  value: T;
  /** "file:line:col" of the value at a path, for later errors. */
  where(path: ConfigPath): string;
}

/** A parsed YAML file, not yet validated: its plain value and the positions of its nodes. */
export interface YamlDocument {
  file: string;
  value: unknown;
  /**
   * "file:line:col" of the deepest node that exists along the path: a scalar
   * value itself, otherwise its key (`at: "key"` always prefers the key).
   */
  where(path: ConfigPath, at?: "key" | "value"): string;
  /** How many segments of the path exist in this file (0 when none do). */
  depth(path: ConfigPath): number;
}

/** Reads and validates a YAML file; errors point at file:line:col. */
export async function loadYamlFile<S extends z.ZodType>(file: string, schema: S): Promise<Located<z.infer<S>>> {
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (error) {
    throw configError("E_CONFIG_READ", `cannot read ${file}: ${(error as Error).message}`, "check the path and its permissions");
  }
  return parseYaml(text, file, schema);
}

export function parseYaml<S extends z.ZodType>(text: string, file: string, schema: S): Located<z.infer<S>> {
  const doc = readYamlDocument(text, file);
  return { value: validateYaml(doc.value, schema, doc.where), where: doc.where };
}

/**
 * How many nodes aliases may expand to, in all: a config repeats a block a
 * few times, never thousands. The yaml library's own default is 100.
 */
const MAX_ALIAS_COUNT = 1000;

/** Where the first alias of the document is, for an error about aliases. */
function firstAliasOffset(doc: Document): number {
  let offset = 0;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

/** Parses YAML keeping node positions; a syntax error (or a duplicate key) throws with file:line:col. */
export function readYamlDocument(text: string, file: string): YamlDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const firstError = doc.errors[0];
  if (firstError) {
    throw configError("E_CONFIG_SYNTAX", `${position(firstError.pos[0])}: ${firstError.message.split("\n")[0]}`, "fix the YAML syntax (indentation, quoting, a missing colon)");
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The yaml library refuses an alias that expands past the count (a "billion laughs" document) with a ReferenceError.
    if (!(error instanceof ReferenceError) || !/alias/i.test(error.message)) throw error;
    throw configError(
      "E_CONFIG_ALIASES",
      `${position(firstAliasOffset(doc))}: aliases expand past ${MAX_ALIAS_COUNT} nodes (anchors nested into one another, a "billion laughs" document)`,
      "write the repeated values out, or nest fewer aliases; opskit does not expand a document that grows this way",
    );
  }
  return {
    file,
    value,
    where: (path, at = "value") => position(offsetOf(locate(doc, path), at)),
    depth: (path) => locate(doc, path).depth,
  };
}

interface Location {
  depth: number;
  node: Node | null;
  key: Node | null;
}

/** Walks the path through maps and sequences as far as it exists. */
function locate(doc: Document, path: ConfigPath): Location {
  let node = (doc.contents as Node | null) ?? null;
  let key: Node | null = null;
  let depth = 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
      if (!pair) break;
      key = (pair.key as Node | null) ?? null;
      node = (pair.value as Node | null) ?? null;
    } else if (isSeq(node) && typeof segment === "number" && node.items[segment] !== undefined) {
      key = null;
      node = node.items[segment] as Node;
    } else {
      break;
    }
    depth++;
  }
  return { depth, node, key };
}

function offsetOf({ node, key }: Location, at: "key" | "value"): number {
  const empty = !node || (isScalar(node) && node.value === null);
  const scalar = isScalar(node) || isAlias(node);
  if (key?.range && (at === "key" || empty || !scalar)) return key.range[0];
  return node?.range?.[0] ?? key?.range?.[0] ?? 0;
}

type Issue = z.core.$ZodIssue;
type Where = (path: ConfigPath, at?: "key" | "value") => string;

/**
 * Validates a plain value against a schema. The first problem becomes an
 * OpsError (exit 65) whose message reads "file:line:col: field.path: what is
 * wrong" and whose hint says how to fix it.
 */
export function validateYaml<S extends z.ZodType>(value: unknown, schema: S, where: Where): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw describeIssue(pickIssue(parsed.error.issues[0]!), { root: value, schema, where });
}

interface IssueContext {
  root: unknown;
  schema: z.ZodType;
  where: Where;
}

const clean = (path: readonly PropertyKey[]): (string | number)[] => path.filter((p): p is string | number => typeof p !== "symbol");

/** "workflows.deploy.steps[0].ssh" */
export function formatPath(path: ConfigPath): string {
  if (path.length === 0) return "(top level)";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : /^[\w-]+$/.test(p) ? `${i === 0 ? "" : "."}${p}` : `[${JSON.stringify(p)}]`)).join("");
}

/**
 * A union reports one list of issues per branch. Keep the branch that got
 * furthest into the value (an unknown key counts as one level deeper, a
 * missing key as none), preferring issues other than a plain type mismatch.
 */
function pickIssue(issue: Issue): Issue {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return issue;
  const base = clean(issue.path);
  const reach = (i: Issue) => i.path.length + (i.code === "unrecognized_keys" ? 1 : 0) - (i.code === "invalid_type" && /received undefined/.test(i.message) ? 1 : 0);
  const branches = issue.errors.filter((b) => b.length > 0).map((b) => ({ issues: b, reach: Math.max(...b.map(reach)), typeOnly: b.every((i) => i.code === "invalid_type") }));
  branches.sort((a, b) => b.reach - a.reach || Number(a.typeOnly) - Number(b.typeOnly) || a.issues.length - b.issues.length);
  const best = branches[0];
  if (!best) return issue;
  if (branches.every((b) => b.typeOnly && b.reach === best.reach && b.issues[0]!.path.length === 0)) {
    const expected = [...new Set(branches.map((b) => (b.issues[0] as z.core.$ZodIssueInvalidType).expected))];
    return { ...(best.issues[0] as z.core.$ZodIssueInvalidType), path: base, expected: expected.join(" or ") as never };
  }
  const inner = best.issues.reduce((a, b) => (reach(b) > reach(a) ? b : a));
  return pickIssue({ ...inner, path: [...base, ...inner.path] } as Issue);
}

function valueAt(root: unknown, path: ConfigPath): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

function showValue(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const article = (noun: string) => noun.split(" or ").map((n) => (/^[aeiou]/.test(n) ? `an ${n}` : `a ${n}`)).join(" or ");
const typeNames: Record<string, string> = { object: "map", array: "list", record: "map" };
const typeName = (expected: string) => expected.split(" or ").map((e) => typeNames[e] ?? e).join(" or ");

function describeIssue(issue: Issue, { root, schema, where }: IssueContext): OpsError {
  const path = clean(issue.path);
  const got = valueAt(root, path);
  // A token or webhook URL written where a reference belongs is not echoed back to the terminal or a CI log.
  const show = holdsSecret(schema, path) ? () => "(the value is not shown: this field holds a secret)" : showValue;
  const fail = (message: string, hint: string, at: ConfigPath = path, mode: "key" | "value" = "value") =>
    new OpsError({ code: "E_CONFIG_FIELD", message: `${where(at, mode)}: ${message}`, hint, exitCode: 65 });
  switch (issue.code) {
    case "unrecognized_keys": {
      const key = issue.keys[0]!;
      const keyPath = [...path, key];
      const here = where(path);
      const there = where(keyPath, "key");
      const known = knownKeys(schema, path);
      const suggestion = closest(key, known);
      const fix = suggestion ? `did you mean "${suggestion}"? (remove or rename "${key}")` : `remove or rename ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
      const context = there.split(":")[1] !== here.split(":")[1] ? ` (in the map at ${here})` : "";
      return fail(`${formatPath(path)}: unknown key "${key}"${context}`, known.length > 0 ? `${fix}; keys here: ${known.join(", ")}` : fix, keyPath, "key");
    }
    case "invalid_type": {
      const expected = typeName(issue.expected);
      if (got === undefined && path.length > 0) {
        const name = path[path.length - 1];
        return fail(`${formatPath(path.slice(0, -1))}: missing required key "${String(name)}"`, `add ${String(name)}: (${article(expected)})`, path.slice(0, -1), "key");
      }
      return fail(`${formatPath(path)}: expected ${article(expected)}, got ${show(got)}`, `write ${article(expected)} here`);
    }
    case "invalid_format":
    case "invalid_value": {
      if (issue.code === "invalid_value") {
        const options = issue.values.map((v) => JSON.stringify(v)).join(", ");
        return fail(`${formatPath(path)}: ${show(got)} is not allowed`, `use one of: ${options}`);
      }
      const expected = /^Invalid/.test(issue.message) ? `a value matching ${"pattern" in issue ? issue.pattern : issue.format}` : issue.message;
      return fail(`${formatPath(path)}: invalid value ${show(got)}: expected ${expected}`, `write ${expected}`);
    }
    case "invalid_key": {
      const inner = issue.issues[0];
      const expected = inner && !/^Invalid/.test(inner.message) ? inner.message : "a simpler name";
      const name = path[path.length - 1];
      return fail(`${formatPath(path.slice(0, -1))}: invalid name "${String(name)}"`, `rename it using ${expected}`, path, "key");
    }
    case "too_small":
    case "too_big": {
      const custom = !/^(Too|Invalid)/.test(issue.message);
      if (custom) return fail(`${formatPath(path)}: ${issue.message}`, hintForCustom(issue.message, path));
      const bound = `${issue.code === "too_small" ? "at least" : "at most"} ${String(issue.code === "too_small" ? issue.minimum : issue.maximum)}`;
      if (issue.origin === "array") return fail(`${formatPath(path)}: too ${issue.code === "too_small" ? "few" : "many"} entries`, `give ${bound} entries`);
      if (issue.origin === "string") {
        const empty = issue.code === "too_small" && Number(issue.minimum) === 1;
        return fail(`${formatPath(path)}: ${empty ? "must not be empty" : `${show(got)} is too ${issue.code === "too_small" ? "short" : "long"}`}`, empty ? "write a value, or remove the key" : `use ${bound} characters`);
      }
      return fail(`${formatPath(path)}: ${show(got)} is out of range`, `use a value of ${bound}`);
    }
    case "custom":
      return fail(`${formatPath(path)}: ${issue.message}`, hintForCustom(issue.message, path));
    default:
      return fail(`${formatPath(path)}: ${issue.message}`, "run `opskit schema` to see the documented keys");
  }
}

/** Hints for the schema's own rules (refinements), which carry a message but no fix. */
function hintForCustom(message: string, path: ConfigPath): string {
  if (/a step takes one action/.test(message)) return "split it into one step per action";
  if (/a step needs one action/.test(message)) return "add one action key to the step, e.g. ssh: \"uptime\"";
  if (/exactly one of/.test(message)) return `keep one of them in ${formatPath(path)} and move the others to entries of their own`;
  if (/at least one step/.test(message)) return "add a step under steps:, e.g. - ssh: uptime";
  if (/at least one/.test(message)) return "add one, or remove the entry";
  return "run `opskit schema` to see the documented keys";
}

/** Whether the schema at this path (any branch of a union) is a secret field. */
function holdsSecret(schema: z.ZodType, path: ConfigPath): boolean {
  return schemaNodesAt(schema, path).some((node) => isSecretField(node));
}

/** The keys an object at this path accepts, read from the schema itself. */
function knownKeys(schema: z.ZodType, path: ConfigPath): string[] {
  const found = new Set<string>();
  for (const node of schemaNodesAt(schema, path)) {
    const def = node._zod.def as unknown as { type: string; shape?: Record<string, unknown> };
    if (def.type === "object") Object.keys(def.shape!).forEach((k) => found.add(k));
  }
  return [...found];
}

/** Every schema node a value at this path may be checked against: through optionals, defaults, pipes and each branch of a union. */
function schemaNodesAt(schema: z.ZodType, path: ConfigPath): z.core.$ZodType[] {
  const found: z.core.$ZodType[] = [];
  const visit = (node: z.core.$ZodType | undefined, rest: ConfigPath, seen: number): void => {
    if (!node || seen > 50) return;
    if (rest.length === 0) found.push(node);
    const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
    const next = (inner: unknown, r = rest) => visit(inner as z.core.$ZodType, r, seen + 1);
    switch (def.type) {
      case "object": {
        const shape = def.shape as Record<string, z.core.$ZodType>;
        if (rest.length > 0) next(shape[String(rest[0])], rest.slice(1));
        return;
      }
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "catch":
      case "nonoptional":
        return next(def.innerType);
      case "pipe":
        return next(def.in);
      case "lazy":
        return next((def.getter as () => unknown)());
      case "union":
        for (const option of def.options as unknown[]) next(option);
        return;
      case "record":
        if (rest.length > 0) next(def.valueType, rest.slice(1));
        return;
      case "array":
        if (rest.length > 0) next(def.element, rest.slice(1));
        return;
    }
  };
  visit(schema as unknown as z.core.$ZodType, path, 0);
  return found;
}

/** The known key nearest to a typo, if it is near enough to be the likely intent. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
