import { wrappedCommandAt, wrapperOf } from "../expr/index.ts";
import { isReserved, type Word } from "./shell-syntax.ts";

/*
 * What a parsed shell word means: its value without quotes, whether it is an
 * assignment, the expansions in it and how they are quoted, and which
 * command a simple command really runs behind sudo, env or timeout.
 */

/** The word with quotes removed and backslash escapes applied; expansions stay as written. */
export function unquote(raw: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === "'") {
      const close = raw.indexOf("'", i + 1);
      out += raw.slice(i + 1, close < 0 ? raw.length : close);
      i = close < 0 ? raw.length : close;
    } else if (c === '"') {
      let j = i + 1;
      while (j < raw.length && raw[j] !== '"') {
        if (raw[j] === "\\" && /[$`"\\\n]/.test(raw[j + 1] ?? "")) j++;
        out += raw[j];
        j++;
      }
      i = j;
    } else if (c === "\\") {
      out += raw[i + 1] ?? "";
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

const assignment = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;

export function isAssignment(raw: string): boolean {
  return assignment.test(raw);
}

export interface CommandCore {
  /** The command name after assignments, reserved words and wrappers (sudo, env, timeout...), or "" when there is none. */
  name: string;
  /** Index in `words` of the command name. */
  index: number;
  /** The wrappers in front of it, with their words. */
  wrappers: { name: string; words: Word[] }[];
}

const notCommand = new Set(["for", "select", "case", "function"]);

/** Finds the command a simple command really runs: `sudo -u x env A=1 timeout 5 ssh ...` runs ssh (the wrappers are expr's one table). */
export function commandCore(words: readonly Word[]): CommandCore {
  const found: CommandCore = { name: "", index: -1, wrappers: [] };
  let i = 0;
  while (i < words.length && (isReserved(words[i]!.raw) || isAssignment(words[i]!.raw))) {
    // Not commands: a loop's word list, a case's subject, a function keyword (also after `do`, `then`...).
    if (notCommand.has(words[i]!.raw)) return found;
    i++;
  }
  const texts = words.map((word) => unquote(word.raw));
  while (i < words.length) {
    const base = texts[i]!.slice(texts[i]!.lastIndexOf("/") + 1);
    if (!wrapperOf(texts[i]!)) {
      found.name = base;
      found.index = i;
      return found;
    }
    const start = i;
    i = wrappedCommandAt(texts, i);
    found.wrappers.push({ name: base, words: words.slice(start, i) });
  }
  return found;
}

export interface Expansion {
  name: string;
  quoted: boolean;
  /** ${X:?}, ${X?} or ${X:-default} with a literal default: never empty. */
  safe: boolean;
  /** Offset in the word's raw text. */
  at: number;
  end: number;
}

/** Parameter expansions and command substitutions in a word, with their quoting. */
export function expansionsOf(raw: string): Expansion[] {
  const found: Expansion[] = [];
  let quote: "" | "'" | '"' = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quote !== "'" && c === "\\") {
      i++;
      continue;
    }
    if (c === "'" && quote !== '"') quote = quote === "'" ? "" : "'";
    else if (c === '"' && quote !== "'") quote = quote === '"' ? "" : '"';
    else if (c === "$" && quote !== "'") {
      const rest = raw.slice(i);
      const braced = /^\$\{[#!]?([A-Za-z_]\w*|\d+|[@*#?$!-])([^}]*)\}/.exec(rest);
      const plain = /^\$([A-Za-z_]\w*|\d|[@*#?$!-])/.exec(rest);
      const substitution = /^\$\(/.test(rest) && !/^\$\(\(/.test(rest);
      if (braced) {
        const op = braced[2]!;
        const safe = /^:?\?/.test(op) || /^:[-=][^$]/.test(op);
        found.push({ name: braced[1]!, quoted: quote === '"', safe, at: i, end: i + braced[0].length });
        i += braced[0].length - 1;
      } else if (plain) {
        found.push({ name: plain[1]!, quoted: quote === '"', safe: false, at: i, end: i + plain[0].length });
        i += plain[0].length - 1;
      } else if (substitution) {
        let depth = 0;
        let j = i + 1;
        for (; j < raw.length; j++) {
          if (raw[j] === "(") depth++;
          else if (raw[j] === ")" && --depth === 0) break;
        }
        found.push({ name: "$(…)", quoted: quote === '"', safe: false, at: i, end: j + 1 });
        i = j;
      }
    }
  }
  return found;
}
