import { configError, usageError } from "../errors.ts";
import type { Expression } from "./cel.ts";
import { escapePromqlString, hasLoneSurrogate, promqlPlaceProblem, promqlStart, scanPromql, type PromqlScan } from "./promql.ts";
import { placeShellValues, type ShellContext, type ShellItem } from "./shell-context.ts";

/**
 * Where an interpolated value lands, which decides how it is made safe.
 * Untrusted text (alert labels, `--var`, command output) is data in every one
 * of them, by construction:
 * - shell: the value never enters the command text. The command gets a
 *   preamble of assignments (`OPSKIT_V1='...'`, single-quoted, in a context
 *   opskit writes itself) and each {{ }} becomes a reference to its variable,
 *   quoted for where it sits. A place where the shell, or a command it runs,
 *   would parse the expansion again is refused when the template compiles.
 * - url: encoded by URL part: a host stays a host, a path keeps its slashes
 *   but cannot start a query or climb with `..`, a query value is fully encoded.
 * - selector: every character of a value is literal (`*` matches only `*`).
 * - header: no CR, LF or NUL, so a value cannot add a header or a request.
 * - json: inside a JSON string the value is escaped for it; elsewhere it is
 *   written as a JSON value (a string quoted), so it cannot add keys.
 * - form: percent-encoded, so it cannot add a field.
 * - promql: only inside a PromQL string literal ("..." or '...'), escaped
 *   for it; in a regex matcher's value (`=~"..."`) its regex metacharacters
 *   too. A {{ }} anywhere else in a query is refused when it compiles.
 * - raw: as is, for text that nothing parses (a path, an env value, stdin).
 */
export type Escape = "shell" | "url" | "raw" | "selector" | "header" | "json" | "form" | "promql";

/** Where an interpolation sits in a URL, which decides what it may contain. */
type UrlPart = "authority" | "path" | "query";

type Part = { literal: string } | { expression: Expression; column: number; urlPart: UrlPart; inJsonString: boolean; promql?: PromqlScan };

/** A shell command rendered: what runs, and what a person or a permission check reads (values quoted in place). */
export interface ShellRendering {
  /** One self-contained command: the preamble of assignments, then `script`. */
  command: string;
  /** The command text alone, with references only; run it with `values` in its environment. */
  script: string;
  /** The variables `script` references and their values. */
  values: Record<string, string>;
  shown: string;
}

export interface Template {
  readonly source: string;
  /** True when the text holds no {{ }}: rendering returns it unchanged. */
  readonly constant: boolean;
  /** Renders for `escape`; "shell" returns what runs (see renderShell). */
  render(variables: Record<string, unknown>, escape: Escape): string;
  renderShell(variables: Record<string, unknown>): ShellRendering;
}

/** POSIX single quotes keep everything literal, newlines included; a quote is closed, escaped and reopened. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

const shellReferences: Record<ShellContext, (name: string) => string> = {
  word: (name) => `"\${${name}}"`,
  double: (name) => `\${${name}}`,
  heredoc: (name) => `\${${name}}`,
  single: (name) => `'"\${${name}}"'`,
};

/** The value written in place, for reading only: what the command means, never what runs. */
const shellShown: Record<ShellContext, (text: string) => string> = {
  word: shellQuote,
  single: (text) => text.replaceAll("'", `'\\''`),
  double: (text) => text.replace(/[\\"$`]/g, (c) => `\\${c}`),
  heredoc: (text) => text.replace(/[\\$`]/g, (c) => `\\${c}`),
};

// A path value keeps its slashes but cannot start a query or fragment.
const escapePath = (text: string) => encodeURIComponent(text).replaceAll("%2F", "/");

const urlEscapers: Record<UrlPart, (text: string) => string> = {
  // Host and port: names, IPs, [v6]; anything else is encoded so it cannot add a path or credentials.
  // A value starting with "/" right after the host is the path ("http://{{ host }}{{ path }}").
  authority: (text) => (text.startsWith("/") ? escapePath(text) : text.replace(/[^A-Za-z0-9.\-_:[\]]/g, (c) => encodeURIComponent(c))),
  path: escapePath,
  query: encodeURIComponent,
};

/** The URL part in force after `text`, starting from `state`. */
function scanUrl(text: string, state: UrlPart): UrlPart {
  let at = 0;
  if (state === "authority") {
    const scheme = text.indexOf("://");
    const from = scheme >= 0 ? scheme + 3 : 0;
    const slash = text.indexOf("/", from);
    if (slash < 0) return text.slice(from).search(/[?#]/) >= 0 ? "query" : "authority";
    state = "path";
    at = slash;
  }
  if (state === "path" && text.slice(at).search(/[?#]/) >= 0) state = "query";
  return state;
}

/**
 * A value made literal for a label selector: every character outside the
 * selector's plain word characters is backslash-escaped, which the selector
 * parser reads as that character itself (so `*` matches only `*`, and `,`
 * cannot start another requirement).
 */
export function escapeSelectorValue(text: string): string {
  return text.replace(/[^A-Za-z0-9_.:/@+-]/g, (c) => `\\${c}`);
}

/** Whether JSON text that starts inside a string (or not) ends inside one. */
function scanJson(text: string, inString: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString && c === "\\") i++;
    else if (c === '"') inString = !inString;
  }
  return inString;
}

/** A value that a URL, a header or a shell variable cannot hold is an error naming the expression, never a silent change. */
function refuseValue(where: string, part: { expression: Expression; column: number }, what: string, hint: string): never {
  throw usageError("E_TEMPLATE_VALUE", `${where}: the value of {{ ${part.expression.source} }} at column ${part.column} ${what}`, hint);
}

export function stringify(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v));
}

/** Splits "text {{ expr }} text" into parts; a {{ without its }} is an error pointing at the column. */
export function splitTemplate(source: string, where: string): ({ literal: string } | { code: string; column: number })[] {
  const parts: ({ literal: string } | { code: string; column: number })[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf("{{", at);
    if (open < 0) {
      parts.push({ literal: source.slice(at) });
      break;
    }
    if (open > at) parts.push({ literal: source.slice(at, open) });
    const close = source.indexOf("}}", open + 2);
    if (close < 0) {
      throw usageError("E_TEMPLATE", `${where}: "{{" at column ${open + 1} has no closing "}}"\n  ${source}\n  ${" ".repeat(open)}^`, "close the expression with }}, e.g. {{ vars.version }}");
    }
    const code = source.slice(open + 2, close).trim();
    if (!code) throw usageError("E_TEMPLATE", `${where}: empty {{ }} at column ${open + 1}`, "put a CEL expression inside, e.g. {{ target.address }}");
    parts.push({ code, column: open + 1 });
    at = close + 2;
  }
  return parts;
}

/** Line and column (1-based) of an offset in a possibly multi-line source, and that line. */
function positionOf(source: string, offset: number): { line: number; column: number; text: string } {
  const before = source.slice(0, offset);
  const lineStart = before.lastIndexOf("\n") + 1;
  const lineEnd = source.indexOf("\n", offset);
  return { line: before.split("\n").length, column: offset - lineStart + 1, text: source.slice(lineStart, lineEnd < 0 ? undefined : lineEnd) };
}

export interface UnsafeShellPlace {
  /** The {{ }}'s expression as written. */
  code: string;
  /** Offset of its "{{" in the command. */
  offset: number;
  line: number;
  column: number;
  reason: string;
  hint: string;
}

/** Where each {{ }} of a shell command sits, and the places that cannot hold a value safely. */
function scanShellTemplate(source: string, pieces: readonly ({ literal: string } | { code: string; column: number })[]): { contexts: ShellContext[]; unsafe: UnsafeShellPlace[] } {
  const items: ShellItem[] = [];
  const interpolations: { code: string; column: number }[] = [];
  for (const piece of pieces) {
    if ("literal" in piece) items.push(...piece.literal.split(""));
    else items.push(interpolations.push(piece) - 1);
  }
  const placement = placeShellValues(items, interpolations.length);
  const unsafe = placement.refusals.map((refusal) => {
    const { code, column } = interpolations[refusal.index]!;
    const at = positionOf(source, column - 1);
    return { code, offset: column - 1, line: at.line, column: at.column, reason: refusal.reason, hint: refusal.hint };
  });
  return { contexts: placement.contexts, unsafe };
}

/**
 * The {{ }} of a shell command that no quoting can make safe (arithmetic, a
 * quoted here-document, eval, `sh -c` scripts, ...): what `opskit validate`
 * refuses and `opskit audit` reports. No CEL is compiled.
 */
export function unsafeShellPlaces(source: string): UnsafeShellPlace[] {
  return scanShellTemplate(source, splitTemplate(source, "command")).unsafe;
}

/**
 * What each {{ }} of a shell command can do once rendered, in order: "data"
 * where its value stays data (an argument, or part of one: it cannot add a
 * word, an operator or a command), "code" where it names the command to run
 * or sits where something parses it again (eval, `sh -c`, ssh, ...), or is
 * an argument a client runs as a program of its own (`psql -c`, `kubectl
 * exec`). What the audit's policy check reads. No CEL is compiled.
 */
export function shellTemplateRoles(source: string): ("data" | "code")[] {
  const pieces = splitTemplate(source, "command");
  const items: ShellItem[] = [];
  let count = 0;
  for (const piece of pieces) {
    if ("literal" in piece) items.push(...piece.literal.split(""));
    else items.push(count++);
  }
  const placement = placeShellValues(items, count);
  const code = new Set([...placement.refusals.map((r) => r.index), ...placement.commandNames, ...placement.programArguments]);
  return Array.from({ length: count }, (_, i) => (code.has(i) ? "code" : "data"));
}

/** Where each {{ }} of a shell command sits; a place that cannot hold a value safely fails with its line and column. */
function placeShell(source: string, where: string, pieces: readonly ({ literal: string } | { code: string; column: number })[]): ShellContext[] {
  const { contexts, unsafe } = scanShellTemplate(source, pieces);
  const first = unsafe[0];
  if (first) {
    const text = positionOf(source, first.offset).text;
    throw configError(
      "E_TEMPLATE_UNSAFE",
      `${where}: {{ ${first.code} }} at line ${first.line}, column ${first.column} of the command cannot hold a value safely: ${first.reason}\n  ${text}\n  ${" ".repeat(first.column - 1)}^`,
      first.hint,
    );
  }
  return contexts;
}

/**
 * Compiles "{{ cel }}" interpolations. The CEL library is loaded only when
 * the text has one. With `escape` "shell" the command's every {{ }} is
 * placed now, so a template that cannot be made safe fails at load, not
 * when an alert arrives.
 */
export async function compileTemplate(source: string, where: string, variables: readonly string[], escape?: Escape): Promise<Template> {
  const pieces = splitTemplate(source, where);
  if (pieces.every((p) => "literal" in p)) {
    return { source, constant: true, render: () => source, renderShell: () => ({ command: source, script: source, values: {}, shown: source }) };
  }
  const { compileExpression } = await import("./cel.ts");
  let urlPart: UrlPart = "authority";
  let inJsonString = false;
  // Only a query's template pays for the PromQL scan; its placement is checked now, as a shell command's is.
  let promql = escape === "promql" ? promqlStart : undefined;
  const parts: Part[] = pieces.map((piece) => {
    if ("literal" in piece) {
      urlPart = scanUrl(piece.literal, urlPart);
      inJsonString = scanJson(piece.literal, inJsonString);
      if (promql) promql = scanPromql(piece.literal, promql);
      return piece;
    }
    const problem = promql && promqlPlaceProblem(promql);
    if (problem) {
      const at = positionOf(source, piece.column - 1);
      throw configError("E_TEMPLATE_UNSAFE", `${where}: {{ ${piece.code} }} at line ${at.line}, column ${at.column} of the query cannot hold a value safely: ${problem.reason}\n  ${at.text}\n  ${" ".repeat(at.column - 1)}^`, problem.hint);
    }
    return { expression: compileExpression(piece.code, `${where} (column ${piece.column})`, variables), column: piece.column, urlPart, inJsonString, ...(promql ? { promql } : {}) };
  });
  let contexts = escape === "shell" ? placeShell(source, where, pieces) : undefined;
  const evaluate = (part: Extract<Part, { expression: Expression }>, values: Record<string, unknown>): unknown => {
    const result = part.expression.evaluate(values);
    if (!result.ok) {
      throw usageError("E_TEMPLATE_EVAL", `${where}: {{ ${part.expression.source} }} at column ${part.column}: ${result.error}`, "check the names it uses: vars, target, env, steps.<name>");
    }
    return result.value;
  };
  const escapers: Record<Exclude<Escape, "shell">, (part: Extract<Part, { expression: Expression }>, value: unknown) => string> = {
    raw: (_part, value) => stringify(value),
    url: (part, value) => {
      const text = stringify(value);
      if (part.urlPart === "path" && text.split("/").some((segment) => segment === "." || segment === "..")) {
        refuseValue(where, part, `is a "." or ".." path segment, which would change the URL's path`, "a value in a URL path must name a resource, not climb to another one");
      }
      return urlEscapers[part.urlPart](text);
    },
    selector: (_part, value) => escapeSelectorValue(stringify(value)),
    header: (part, value) => {
      const text = stringify(value);
      if (/[\r\n\0]/.test(text)) refuseValue(where, part, "holds a line break or NUL, which would end the header", "a header value must be one line");
      return text;
    },
    json: (part, value) => {
      if (part.inJsonString) return JSON.stringify(stringify(value)).slice(1, -1);
      if (value === null || value === undefined) return "null";
      return typeof value === "string" ? JSON.stringify(value) : stringify(value);
    },
    form: (_part, value) => encodeURIComponent(stringify(value)),
    promql: (part, value) => {
      const place = part.promql;
      // Placed when compiled for "promql"; a template compiled for another escape has no place to put a value in a query.
      if (!place || (place.quote !== '"' && place.quote !== "'")) throw new Error(`${where}: template not compiled for a PromQL query`);
      const text = stringify(value);
      if (hasLoneSurrogate(text)) refuseValue(where, part, "holds an unpaired UTF-16 surrogate, which a query cannot carry", "send the value as valid Unicode text");
      return escapePromqlString(text, place.quote, place.regex);
    },
  };
  const template: Template = {
    source,
    constant: false,
    render(values, escape) {
      if (escape === "shell") return template.renderShell(values).command;
      let out = "";
      for (const part of parts) out += "literal" in part ? part.literal : escapers[escape](part, evaluate(part, values));
      return out;
    },
    renderShell(values) {
      contexts ??= placeShell(source, where, pieces);
      let command = "";
      let shown = "";
      // One variable an expression: the same expression twice is evaluated once and a long value carried once.
      const assigned: Record<string, string> = {};
      const names = new Map<string, string>();
      let index = 0;
      for (const part of parts) {
        if ("literal" in part) {
          command += part.literal;
          shown += part.literal;
          continue;
        }
        const context = contexts[index++]!;
        let name = names.get(part.expression.source);
        if (name === undefined) {
          const text = stringify(evaluate(part, values));
          if (text.includes("\0")) refuseValue(where, part, "holds a NUL byte, which no shell variable can hold", "remove the NUL from the value");
          name = `OPSKIT_V${names.size + 1}`;
          names.set(part.expression.source, name);
          assigned[name] = text;
        }
        command += shellReferences[context](name);
        shown += shellShown[context](assigned[name]!);
      }
      const preamble = Object.entries(assigned).map(([name, text]) => `${name}=${shellQuote(text)}`);
      return { command: `${preamble.join(" ")}; ${command}`, script: command, values: assigned, shown };
    },
  };
  return template;
}
