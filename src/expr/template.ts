import { usageError } from "../errors.ts";
import type { Expression } from "./cel.ts";

/**
 * How an interpolated value is made safe for where it lands. Untrusted text
 * (alert labels, command output) must never reach a shell unescaped. In a
 * shell command the escaping follows the quotes around the {{ }}: a bare
 * value is single-quoted, one inside "..." or '...' is escaped for them. In
 * a URL it follows the part: a host stays a host, a path keeps its slashes
 * but cannot start a query, a query value is fully encoded.
 */
export type Escape = "shell" | "url" | "raw";

/** Where an interpolation sits in a shell command: bare, or inside '...' or "...". */
type ShellQuoting = "bare" | "single" | "double";

/** Where an interpolation sits in a URL, which decides what it may contain. */
type UrlPart = "authority" | "path" | "query";

type Part = { literal: string } | { expression: Expression; column: number; quoting: ShellQuoting; urlPart: UrlPart };

export interface Template {
  readonly source: string;
  /** True when the text holds no {{ }}: rendering returns it unchanged. */
  readonly constant: boolean;
  render(variables: Record<string, unknown>, escape: Escape): string;
}

/** POSIX single quotes keep everything literal, newlines included; a quote is closed, escaped and reopened. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

const shellEscapers: Record<ShellQuoting, (text: string) => string> = {
  bare: shellQuote,
  single: (text) => text.replaceAll("'", `'\\''`),
  // Inside double quotes only \, ", $ and ` are special.
  double: (text) => text.replace(/[\\"$`]/g, (c) => `\\${c}`),
};

// A path value keeps its slashes but cannot start a query or fragment.
const escapePath = (text: string) => encodeURIComponent(text).replaceAll("%2F", "/");

const urlEscapers: Record<UrlPart, (text: string) => string> = {
  // Host and port: names, IPs, [v6]; anything else is encoded so it cannot add a path or credentials.
  // A value starting with "/" right after the host is the path ("http://{{ host }}{{ path }}").
  authority: (text) => (text.startsWith("/") ? escapePath(text) : text.replace(/[^A-Za-z0-9.\-_:[\]%]/g, (c) => encodeURIComponent(c))),
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

/** The quoting in force after `text`, starting from `state` (POSIX shell rules). */
function scanQuoting(text: string, state: ShellQuoting): ShellQuoting {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (state === "single") {
      if (c === "'") state = "bare";
    } else if (c === "\\") {
      i++;
    } else if (state === "double") {
      if (c === '"') state = "bare";
    } else if (c === "'") {
      state = "single";
    } else if (c === '"') {
      state = "double";
    }
  }
  return state;
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

/**
 * Compiles "{{ cel }}" interpolations. The CEL library is loaded only when
 * the text has one.
 */
export async function compileTemplate(source: string, where: string, variables: readonly string[]): Promise<Template> {
  const pieces = splitTemplate(source, where);
  if (pieces.every((p) => "literal" in p)) {
    return { source, constant: true, render: () => source };
  }
  const { compileExpression } = await import("./cel.ts");
  let quoting: ShellQuoting = "bare";
  let urlPart: UrlPart = "authority";
  const parts: Part[] = pieces.map((piece) => {
    if ("literal" in piece) {
      quoting = scanQuoting(piece.literal, quoting);
      urlPart = scanUrl(piece.literal, urlPart);
      return piece;
    }
    return { expression: compileExpression(piece.code, `${where} (column ${piece.column})`, variables), column: piece.column, quoting, urlPart };
  });
  return {
    source,
    constant: false,
    render(values, escape) {
      let out = "";
      for (const part of parts) {
        if ("literal" in part) {
          out += part.literal;
          continue;
        }
        const result = part.expression.evaluate(values);
        if (!result.ok) {
          throw usageError("E_TEMPLATE_EVAL", `${where}: {{ ${part.expression.source} }} at column ${part.column}: ${result.error}`, "check the names it uses: vars, target, env, steps.<name>");
        }
        const text = stringify(result.value);
        out += escape === "shell" ? shellEscapers[part.quoting](text) : escape === "url" ? urlEscapers[part.urlPart](text) : text;
      }
      return out;
    },
  };
}
