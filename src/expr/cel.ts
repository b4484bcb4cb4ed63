import { celEnv, celFunc, CelScalar, isCelError, isCelList, isCelMap, parse, plan, type CelEnv, type CelInput } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { create, isMessage } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { usageError } from "../errors.ts";
import { checkTypes, describeActual, readPaths, variableNames, type Variables } from "./cel-check.ts";
import { visitChildren, type CelNode } from "./cel-walk.ts";
import { DurationValue, TimestampValue } from "./values.ts";

export interface ExpectationOutcome {
  passed: boolean;
  /** Why the expression could not be evaluated (a missing field, a type error). */
  error?: string;
  /** When it is false: the values of the names it read, e.g. `status = 503`. */
  actual?: string;
}

export interface Expectation {
  readonly source: string;
  test(variables: Record<string, unknown>): ExpectationOutcome;
}

const env = celEnv({ funcs: strings });

type ScalarName = "string" | "int" | "double" | "bool";
const celScalars = { string: CelScalar.STRING, int: CelScalar.INT, double: CelScalar.DOUBLE, bool: CelScalar.BOOL } as const;

/**
 * A function an expression may call besides CEL's own (the agent's
 * `window(source, "5m")`): one entry per overload. Arguments arrive as JS
 * values (an int as a number) and the result is converted back, so the
 * implementation never sees CEL's bigints.
 */
export interface ExprFunction {
  name: string;
  args: readonly ScalarName[];
  result: ScalarName;
  call(...args: (string | number | boolean)[]): string | number | boolean;
}

/** One environment per set of extra functions, built once. */
const environments = new WeakMap<readonly ExprFunction[], CelEnv>();

function envWith(functions: readonly ExprFunction[] | undefined): CelEnv {
  if (!functions || functions.length === 0) return env;
  let found = environments.get(functions);
  if (!found) {
    const declared = functions.map((f) =>
      celFunc(f.name, f.args.map((a) => celScalars[a]), celScalars[f.result], (...args: unknown[]) => {
        const value = f.call(...args.map((a) => (typeof a === "bigint" ? Number(a) : (a as string | number | boolean))));
        return (f.result === "int" ? BigInt(Math.trunc(Number(value))) : value) as never;
      }),
    );
    environments.set(functions, (found = celEnv({ funcs: [...strings, ...declared] })));
  }
  return found;
}

/** A compiled CEL expression of any result type. */
export interface Expression {
  readonly source: string;
  /** The names and field paths it reads. */
  readonly reads: ReturnType<typeof readPaths>;
  evaluate(variables: Record<string, unknown>): { ok: true; value: unknown } | { ok: false; error: string };
}

export function compileExpression(source: string, where: string, declared: Variables, expectBool = false, functions?: readonly ExprFunction[]): Expression {
  const variables = variableNames(declared);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (error) {
    throw usageError("E_EXPR_SYNTAX", `${where}: invalid expression\n${pointAt(source, (error as Error).message)}`, 'expressions are CEL, e.g. status == 200 && duration < duration("300ms")');
  }
  const used = [...freeIdentifiers(parsed.expr)];
  const unknown = used.filter((name) => !variables.includes(name));
  if (unknown.length > 0) {
    throw usageError(
      "E_EXPR_UNKNOWN",
      `${where}: unknown name ${unknown.map((n) => `"${n}"`).join(", ")} in expression: ${source}`,
      `available: ${variables.join(", ")}`,
    );
  }
  const mismatch = checkTypes(parsed.expr, declared, expectBool);
  if (mismatch) throw usageError("E_EXPR_TYPE", `${where}: ${mismatch.message}${mismatch.message.startsWith(`${source} `) ? "" : ` in expression: ${source}`}`, mismatch.hint);
  const program = plan(envWith(functions), parsed);
  return {
    source,
    reads: readPaths(parsed.expr),
    evaluate(values) {
      // CEL would say only "unresolved attribute"; name the variable instead.
      const absent = used.filter((name) => values[name] === undefined);
      if (absent.length > 0) return { ok: false, error: `no value for ${absent.map((n) => `"${n}"`).join(", ")} in this result` };
      const result = program(toCel(values) as Record<string, CelInput>);
      if (isCelError(result)) return { ok: false, error: result.message };
      return { ok: true, value: fromCel(result) };
    },
  };
}

export function compileExpectation(source: string, where: string, variables: Variables): Expectation {
  const expression = compileExpression(source, where, variables, true);
  return {
    source,
    test(values) {
      const result = expression.evaluate(values);
      if (!result.ok) return { passed: false, error: result.error };
      if (typeof result.value !== "boolean") return { passed: false, error: `expression gave ${typeof result.value === "bigint" ? "an int" : typeof result.value}, not true or false` };
      return result.value ? { passed: true } : { passed: false, actual: describeActual(expression.reads, values) };
    },
  };
}

/** CEL values back to plain JS: maps to objects, lists to arrays, durations to "1.5s", timestamps to ISO text. */
export function fromCel(value: unknown): unknown {
  if (isCelList(value)) return [...value].map(fromCel);
  if (isCelMap(value)) return Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), fromCel(v)]));
  if (isMessage(value, DurationSchema)) return `${Number(value.seconds) + value.nanos / 1e9}s`;
  if (isMessage(value, TimestampSchema)) return new Date(Number(value.seconds) * 1000 + value.nanos / 1e6).toISOString();
  return value;
}

/** Turns "<input>:1:8: found = but ..." into the expression with a caret under column 8. */
function pointAt(source: string, message: string): string {
  const match = /^<input>:(\d+):(\d+):\s*(.*)$/s.exec(message);
  if (!match) return `  ${source}\n  ${message}`;
  const column = Number(match[2]);
  const line = source.split("\n")[Number(match[1]) - 1] ?? source;
  return `  ${line}\n  ${" ".repeat(Math.max(0, column - 1))}^ ${match[3]} (column ${column})`;
}

type Node = CelNode;

/** Names the expression reads that are not bound by a macro such as exists(). */
function freeIdentifiers(root: Node): Set<string> {
  const names = new Set<string>();
  const visit = (node: Node | undefined, bound: ReadonlySet<string>): void => {
    if (!node) return;
    if (node.exprKind.case === "identExpr") {
      if (!bound.has(node.exprKind.value.name)) names.add(node.exprKind.value.name);
      return;
    }
    visitChildren(node, bound, visit);
  };
  visit(root, new Set());
  return names;
}

function toCel(value: unknown): unknown {
  if (value instanceof DurationValue) {
    const totalNs = BigInt(Math.round(value.ms * 1e6));
    return create(DurationSchema, { seconds: totalNs / 1_000_000_000n, nanos: Number(totalNs % 1_000_000_000n) });
  }
  if (value instanceof TimestampValue) {
    const ms = value.date.getTime();
    return create(TimestampSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
  }
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) if (inner !== undefined) out[key] = toCel(inner);
    return out;
  }
  return value;
}

/** A call of one of the named functions, with its arguments where they are constants (undefined where computed). */
export interface FunctionCall {
  name: string;
  args: (string | number | boolean | undefined)[];
}

/** Every call of the named functions in an expression, so a caller can check their constant arguments before anything runs. Throws on a syntax error. */
export function functionCalls(source: string, names: readonly string[]): FunctionCall[] {
  const calls: FunctionCall[] = [];
  const constant = (node: Node | undefined) => {
    if (node?.exprKind.case !== "constExpr") return undefined;
    const kind = node.exprKind.value.constantKind;
    if (kind.case === "stringValue" || kind.case === "doubleValue" || kind.case === "boolValue") return kind.value;
    if (kind.case === "int64Value" || kind.case === "uint64Value") return Number(kind.value);
    return undefined;
  };
  const visit = (node: Node | undefined, bound: ReadonlySet<string>): void => {
    if (!node) return;
    if (node.exprKind.case === "callExpr" && !node.exprKind.value.target && names.includes(node.exprKind.value.function)) {
      calls.push({ name: node.exprKind.value.function, args: node.exprKind.value.args.map(constant) });
    }
    visitChildren(node, bound, visit);
  };
  visit(parse(source).expr, new Set());
  return calls;
}

/** A field of a root variable that an expression reads by a constant name: `vars.version`, `vars["version"]`, `env.TOKEN`. */
export interface FieldReference {
  root: string;
  field: string;
  /** Only tested for presence somewhere in the expression (`has(vars.x)`, `"x" in vars`): it may be absent. */
  guarded: boolean;
}

/**
 * The fields of the given roots that an expression reads, so that a config
 * check can say before a run that `vars.version` has no value. Names computed
 * at run time (`vars[vars.service]`) are not listed. Throws on a syntax error.
 */
export function referencedFields(source: string, roots: readonly string[]): FieldReference[] {
  const found = new Map<string, FieldReference>();
  const add = (root: string, field: string, guarded: boolean) => {
    const key = `${root}\u0000${field}`;
    found.set(key, { root, field, guarded: guarded || (found.get(key)?.guarded ?? false) });
  };
  const rootOf = (node: Node | undefined, bound: ReadonlySet<string>) =>
    node?.exprKind.case === "identExpr" && roots.includes(node.exprKind.value.name) && !bound.has(node.exprKind.value.name) ? node.exprKind.value.name : undefined;
  const constantText = (node: Node | undefined) =>
    node?.exprKind.case === "constExpr" && node.exprKind.value.constantKind.case === "stringValue" ? node.exprKind.value.constantKind.value : undefined;
  const visit = (node: Node | undefined, bound: ReadonlySet<string>): void => {
    if (!node) return;
    const kind = node.exprKind;
    switch (kind.case) {
      case "selectExpr": {
        const root = rootOf(kind.value.operand, bound);
        if (root) return add(root, kind.value.field, kind.value.testOnly);
        return visit(kind.value.operand, bound);
      }
      case "callExpr": {
        const [first, second] = kind.value.args;
        const indexed = kind.value.function === "_[_]" ? { root: rootOf(first, bound), field: constantText(second), guarded: false } : undefined;
        const tested = kind.value.function === "@in" ? { root: rootOf(second, bound), field: constantText(first), guarded: true } : undefined;
        const reference = indexed ?? tested;
        if (reference?.root && reference.field !== undefined) return add(reference.root, reference.field, reference.guarded);
        return visitChildren(node, bound, visit);
      }
      default:
        return visitChildren(node, bound, visit);
    }
  };
  visit(parse(source).expr, new Set());
  return [...found.values()];
}
