// Expressions: CEL (cel.dev) compiled once and evaluated over result values.
// One language for every protocol's expectations, and later for workflow
// conditions. The CEL library is loaded only when an expression is compiled.
export { DurationValue, TimestampValue, celDuration, celTimestamp } from "./values.ts";
export type { Expectation, ExpectationOutcome, ExprFunction, Expression, FieldReference, FunctionCall } from "./cel.ts";
export { isShell, shells, wrappedCommandAt, wrapperArguments, wrapperOf, type CommandWrapper } from "./shell-wrappers.ts";
export { escapePromqlString } from "./promql.ts";
export { compileTemplate, escapeSelectorValue, shellQuote, shellTemplateRoles, splitTemplate, stringify, unsafeShellPlaces, type Escape, type ShellRendering, type Template, type UnsafeShellPlace } from "./template.ts";

import type { Expectation } from "./cel.ts";
import type { Variables } from "./cel-check.ts";

export type { ExprType, VariableTypes, Variables } from "./cel-check.ts";

/**
 * Compiles expressions that must evaluate to a bool. `where` names their source
 * for error messages (`--expect`, `targets.yaml:4:7`); `variables` are the
 * names the expression may use, so a typo fails at compile time; with their
 * types (a VariableTypes record), a comparison of mismatched types does too.
 */
export async function compileExpectations(sources: string[], where: (index: number) => string, variables: Variables): Promise<Expectation[]> {
  if (sources.length === 0) return [];
  const { compileExpectation } = await import("./cel.ts");
  return sources.map((source, index) => compileExpectation(source, where(index), variables));
}

/** Compiles an expression of any type (a `when`, an `until`), with extra functions if given; loads CEL on first use. */
export async function compileExpression(source: string, where: string, variables: Variables, functions?: readonly import("./cel.ts").ExprFunction[]): Promise<import("./cel.ts").Expression> {
  const cel = await import("./cel.ts");
  return cel.compileExpression(source, where, variables, false, functions);
}

/** The calls of the named functions in an expression, with their constant arguments; loads CEL on first use. */
export async function functionCalls(source: string, names: readonly string[]): Promise<import("./cel.ts").FunctionCall[]> {
  return (await import("./cel.ts")).functionCalls(source, names);
}

/** The fields of `roots` (e.g. vars, env) an expression reads by name; loads CEL on first use. */
export async function referencedFields(source: string, roots: readonly string[]): Promise<import("./cel.ts").FieldReference[]> {
  return (await import("./cel.ts")).referencedFields(source, roots);
}
