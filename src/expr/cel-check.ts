import { visitChildren, type CelNode } from "./cel-walk.ts";
import { DurationValue, TimestampValue } from "./values.ts";

/*
 * A small type check of CEL expressions against declared variable types, run
 * at compile time so that `status == "200"` or `duration < "300ms"` is a
 * usage error with a hint rather than a failed check (or an overload error)
 * at run time. It knows the operators and the functions expectations use;
 * whatever it cannot tell is `dyn` and is left to run time, so it never
 * refuses an expression that could evaluate.
 */

export type ScalarType = "int" | "uint" | "double" | "string" | "bool" | "bytes" | "duration" | "timestamp" | "null";

/** A variable's type: a scalar, a list or map of one type, an object with known fields, or dyn (anything). */
export type ExprType = ScalarType | "dyn" | { list: ExprType } | { map: ExprType } | { fields: Readonly<Record<string, ExprType>> };

/** Names an expression may use, each with its type where it is known. */
export type VariableTypes = Readonly<Record<string, ExprType>>;

/** Names alone (every one dyn), or names with types. */
export type Variables = readonly string[] | VariableTypes;

export function variableNames(variables: Variables): string[] {
  return isNameList(variables) ? [...variables] : Object.keys(variables);
}

function isNameList(variables: Variables): variables is readonly string[] {
  return Array.isArray(variables);
}

type Node = CelNode;

export interface TypeProblem {
  message: string;
  hint: string;
}

class TypeMismatch extends Error {
  constructor(readonly problem: TypeProblem) {
    super(problem.message);
  }
}

const numeric = new Set<ExprType>(["int", "uint", "double"]);
const comparisons = new Set(["==", "!=", "<", "<=", ">", ">="]);
const ordered = new Set<ExprType>(["int", "uint", "double", "string", "bytes", "bool", "duration", "timestamp"]);

function kindOf(type: ExprType): string {
  if (typeof type === "string") return type;
  if ("list" in type) return "list";
  return "map";
}

const article = (kind: string) => (/^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`);

/** A literal of the type, to show in a hint. */
function exampleOf(kind: string, from?: string): string {
  switch (kind) {
    case "int":
      return from !== undefined && /^-?\d+$/.test(from) ? from : "200";
    case "uint":
      return `${from !== undefined && /^\d+$/.test(from) ? from : "200"}u`;
    case "double":
      return from !== undefined && /^-?\d+(\.\d+)?$/.test(from) ? (from.includes(".") ? from : `${from}.0`) : "0.5";
    case "string":
      return JSON.stringify(from ?? "text");
    case "duration":
      // A bare number reads as milliseconds, the unit opskit prints durations in.
      return `duration(${JSON.stringify(from === undefined ? "300ms" : /^\d+(\.\d+)?$/.test(from) ? `${from}ms` : from)})`;
    case "timestamp":
      return `timestamp(${JSON.stringify(from ?? "2030-01-01T00:00:00Z")})`;
    case "bool":
      return "true";
    default:
      return kind;
  }
}

/** The source text of an operand, for messages: names, field paths and literals; undefined for anything else. */
function textOf(node: Node | undefined): string | undefined {
  if (!node) return undefined;
  const kind = node.exprKind;
  if (kind.case === "identExpr") return kind.value.name;
  if (kind.case === "selectExpr") {
    const operand = textOf(kind.value.operand);
    return operand === undefined ? undefined : `${operand}.${kind.value.field}`;
  }
  if (kind.case === "callExpr" && kind.value.function === "_[_]" && kind.value.args[1]?.exprKind.case === "constExpr") {
    const container = textOf(kind.value.args[0]);
    const key = textOf(kind.value.args[1]);
    return container === undefined || key === undefined ? undefined : `${container}[${key}]`;
  }
  if (kind.case === "constExpr") {
    const constant = kind.value.constantKind;
    if (constant.case === "stringValue") return JSON.stringify(constant.value);
    if (constant.case === "int64Value" || constant.case === "doubleValue") return String(constant.value);
    if (constant.case === "uint64Value") return `${constant.value}u`;
    if (constant.case === "boolValue") return String(constant.value);
  }
  return undefined;
}

/** The raw value of a literal operand, used to build the hint's example ("200" → 200). */
function literalOf(node: Node | undefined): string | undefined {
  if (node?.exprKind.case !== "constExpr") return undefined;
  const constant = node.exprKind.value.constantKind;
  if (constant.case === "stringValue") return constant.value;
  if (constant.case === "int64Value" || constant.case === "doubleValue" || constant.case === "uint64Value") return String(constant.value);
  return undefined;
}

const operators: Record<string, string> = {
  "_==_": "==",
  "_!=_": "!=",
  "_<_": "<",
  "_<=_": "<=",
  "_>_": ">",
  "_>=_": ">=",
  "_+_": "+",
  "_-_": "-",
  "_*_": "*",
  "_/_": "/",
  "_%_": "%",
};

function mismatch(operator: string, left: Node, leftType: ExprType, right: Node, rightType: ExprType): TypeMismatch {
  const [leftKind, rightKind] = [kindOf(leftType), kindOf(rightType)];
  const [leftText, rightText] = [textOf(left), textOf(right)];
  const shown = `${leftText ?? `(${article(leftKind)})`} ${operator} ${rightText ?? `(${article(rightKind)})`}`;
  const message = `${shown} ${comparisons.has(operator) ? "compares" : "combines"} ${article(leftKind)} with ${article(rightKind)}`;
  // Name the side the user wrote as a variable; suggest the other side rewritten in its type.
  const variableOnLeft = left.exprKind.case !== "constExpr" || right.exprKind.case === "constExpr";
  const [known, knownKind, other, otherKind] = variableOnLeft ? [leftText, leftKind, right, rightKind] : [rightText, rightKind, left, leftKind];
  const literal = literalOf(other);
  const example = exampleOf(knownKind, literal);
  let hint: string;
  if (knownKind === "duration") hint = `${known ?? "it"} is a duration: write ${example}${other.exprKind.case === "constExpr" ? `, not ${textOf(other)}` : ""}`;
  else if (knownKind === "timestamp") hint = `${known ?? "it"} is a timestamp: write ${example}`;
  else if (other.exprKind.case === "constExpr") hint = `${known ?? "it"} is ${article(knownKind)}: compare with ${example}, not ${textOf(other)}`;
  else hint = `${known ?? "one side"} is ${article(knownKind)} and ${textOf(other) ?? "the other"} is ${article(otherKind)}: convert one, e.g. ${knownKind === "string" ? `string(${textOf(other) ?? "x"})` : `${knownKind}(${textOf(other) ?? "x"})`}`;
  return new TypeMismatch({ message, hint });
}

function sameKind(a: ExprType, b: ExprType): boolean {
  return kindOf(a) === kindOf(b);
}

function arithmetic(operator: string, a: ExprType, b: ExprType): ExprType | undefined {
  if (numeric.has(a) && a === b) return a;
  if (operator === "+") {
    if ((a === "string" && b === "string") || (a === "bytes" && b === "bytes")) return a;
    if (kindOf(a) === "list" && kindOf(b) === "list") return a;
    if (a === "duration" && b === "duration") return "duration";
    if ((a === "timestamp" && b === "duration") || (a === "duration" && b === "timestamp")) return "timestamp";
  }
  if (operator === "-") {
    if (a === "duration" && b === "duration") return "duration";
    if (a === "timestamp" && b === "duration") return "timestamp";
    if (a === "timestamp" && b === "timestamp") return "duration";
  }
  return undefined;
}

/** Result types of functions and methods whose result does not depend on their arguments. */
const resultOf: Record<string, ExprType> = {
  duration: "duration",
  timestamp: "timestamp",
  int: "int",
  uint: "uint",
  double: "double",
  string: "string",
  bool: "bool",
  bytes: "bytes",
  size: "int",
  contains: "bool",
  startsWith: "bool",
  endsWith: "bool",
  matches: "bool",
  "@in": "bool",
  "!_": "bool",
  "_&&_": "bool",
  "_||_": "bool",
  "@not_strictly_false": "bool",
  lowerAscii: "string",
  upperAscii: "string",
  trim: "string",
  replace: "string",
  substring: "string",
  charAt: "string",
  indexOf: "int",
  lastIndexOf: "int",
  split: { list: "string" },
  getFullYear: "int",
  getMonth: "int",
  getDayOfMonth: "int",
  getDate: "int",
  getDayOfWeek: "int",
  getDayOfYear: "int",
  getHours: "int",
  getMinutes: "int",
  getSeconds: "int",
  getMilliseconds: "int",
};

function typeOf(node: Node | undefined, variables: VariableTypes, bound: ReadonlySet<string>): ExprType {
  if (!node) return "dyn";
  const kind = node.exprKind;
  switch (kind.case) {
    case "constExpr": {
      const constant = kind.value.constantKind.case;
      if (constant === "int64Value") return "int";
      if (constant === "uint64Value") return "uint";
      if (constant === "doubleValue") return "double";
      if (constant === "stringValue") return "string";
      if (constant === "boolValue") return "bool";
      if (constant === "bytesValue") return "bytes";
      if (constant === "nullValue") return "null";
      return "dyn";
    }
    case "identExpr":
      return bound.has(kind.value.name) ? "dyn" : (variables[kind.value.name] ?? "dyn");
    case "selectExpr": {
      const operand = typeOf(kind.value.operand, variables, bound);
      if (kind.value.testOnly) return "bool";
      if (typeof operand === "object" && "fields" in operand) return operand.fields[kind.value.field] ?? "dyn";
      if (typeof operand === "object" && "map" in operand) return operand.map;
      return "dyn";
    }
    case "callExpr":
      return callType(kind.value, variables, bound);
    case "listExpr":
      for (const element of kind.value.elements) typeOf(element, variables, bound);
      return { list: "dyn" };
    case "structExpr":
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === "mapKey") typeOf(entry.keyKind.value, variables, bound);
        typeOf(entry.value, variables, bound);
      }
      return { map: "dyn" };
    case "comprehensionExpr": {
      const c = kind.value;
      typeOf(c.iterRange, variables, bound);
      const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter(Boolean));
      for (const part of [c.accuInit, c.loopCondition, c.loopStep, c.result]) typeOf(part, variables, inner);
      return "dyn";
    }
    default:
      return "dyn";
  }
}

function callType(call: Extract<Node["exprKind"], { case: "callExpr" }>["value"], variables: VariableTypes, bound: ReadonlySet<string>): ExprType {
  const target = call.target ? typeOf(call.target, variables, bound) : undefined;
  const args = call.args.map((arg) => typeOf(arg, variables, bound));
  const name = call.function;
  const operator = operators[name];
  if (operator && args.length === 2) {
    const [a, b] = args as [ExprType, ExprType];
    const [left, right] = call.args as [Node, Node];
    if (a === "dyn" || b === "dyn") return comparisons.has(operator) ? "bool" : "dyn";
    if (operator === "==" || operator === "!=") {
      if (a !== "null" && b !== "null" && !(numeric.has(a) && numeric.has(b)) && !sameKind(a, b)) throw mismatch(operator, left, a, right, b);
      return "bool";
    }
    if (operator === "<" || operator === "<=" || operator === ">" || operator === ">=") {
      const comparable = ordered.has(a) && ordered.has(b) && (a === b || (numeric.has(a) && numeric.has(b)));
      if (!comparable) throw mismatch(operator, left, a, right, b);
      return "bool";
    }
    const result = arithmetic(operator, a, b);
    if (!result) throw mismatch(operator, left, a, right, b);
    return result;
  }
  if (name === "_[_]") {
    const container = args[0];
    if (container && typeof container === "object" && "list" in container) return container.list;
    if (container && typeof container === "object" && "map" in container) return container.map;
    return "dyn";
  }
  if (name === "_?_:_") return args[1] !== undefined && args[2] !== undefined && args[1] === args[2] ? args[1] : "dyn";
  if (name === "-_") return args[0] ?? "dyn";
  if (name === "size" && target === undefined && args.length === 1) return "int";
  return resultOf[name] ?? "dyn";
}

/**
 * The first type mismatch in the expression, given the declared types;
 * undefined when none is certain. `expectBool`: the whole expression must be
 * a bool (an expectation).
 */
export function checkTypes(root: Node, variables: Variables, expectBool: boolean): TypeProblem | undefined {
  const types: VariableTypes = isNameList(variables) ? {} : variables;
  try {
    const type = typeOf(root, types, new Set());
    if (expectBool && type !== "dyn" && type !== "bool") {
      const text = textOf(root);
      return {
        message: `${text ?? "the expression"} is ${article(kindOf(type))}, not true or false`,
        hint: `an expectation must be a condition, e.g. ${text ?? "status"} == ${exampleOf(kindOf(type))}`,
      };
    }
    return undefined;
  } catch (error) {
    if (error instanceof TypeMismatch) return error.problem;
    throw error;
  }
}

/**
 * The variables and field paths an expression reads (`status`,
 * `body.json.status`, `headers["content-type"]`), as a failed expectation
 * reports them with their values.
 */
export function readPaths(root: Node): { text: string; path: (string | number)[] }[] {
  const found = new Map<string, (string | number)[]>();
  const pathOf = (node: Node | undefined, bound: ReadonlySet<string>): (string | number)[] | undefined => {
    if (!node) return undefined;
    const kind = node.exprKind;
    if (kind.case === "identExpr") return bound.has(kind.value.name) ? undefined : [kind.value.name];
    if (kind.case === "selectExpr" && !kind.value.testOnly) {
      const operand = pathOf(kind.value.operand, bound);
      return operand && [...operand, kind.value.field];
    }
    if (kind.case === "callExpr" && kind.value.function === "_[_]") {
      const key = kind.value.args[1]?.exprKind;
      const operand = pathOf(kind.value.args[0], bound);
      if (operand && key?.case === "constExpr") {
        const constant = key.value.constantKind;
        if (constant.case === "stringValue") return [...operand, constant.value];
        if (constant.case === "int64Value") return [...operand, Number(constant.value)];
      }
    }
    return undefined;
  };
  const visit = (node: Node | undefined, bound: ReadonlySet<string>): void => {
    if (!node) return;
    const path = pathOf(node, bound);
    if (path) {
      found.set(formatPath(path), path);
      return;
    }
    visitChildren(node, bound, visit);
  };
  visit(root, new Set());
  return [...found].map(([text, path]) => ({ text, path }));
}

function formatPath(path: (string | number)[]): string {
  return path.map((part, i) => (i === 0 ? String(part) : typeof part === "number" ? `[${part}]` : /^[A-Za-z_]\w*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`)).join("");
}

/** `status = 503, duration = 312.401ms`: what the paths held, shortened for one line. */
export function describeActual(paths: { text: string; path: (string | number)[] }[], values: Record<string, unknown>): string {
  return paths
    .map(({ text, path }) => {
      let value: unknown = values;
      for (const part of path) value = value !== null && typeof value === "object" ? (value as Record<string | number, unknown>)[part] : undefined;
      return `${text} = ${showValue(value)}`;
    })
    .join(", ");
}

function showValue(value: unknown): string {
  if (value === undefined) return "(absent)";
  if (typeof value === "bigint") return String(value);
  if (value instanceof DurationValue) return `${Math.round(value.ms * 1000) / 1000}ms`;
  if (value instanceof TimestampValue) return value.date.toISOString();
  const text = JSON.stringify(value, (_key, inner: unknown) => (typeof inner === "bigint" ? Number(inner) : inner instanceof DurationValue ? `${inner.ms}ms` : inner)) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
