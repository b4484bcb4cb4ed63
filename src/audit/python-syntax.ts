/*
 * Python source as the audit's rules need it: a copy of the text, the same
 * length, with comments blanked and string contents masked (so a regex over
 * code never matches inside a string), the string literals themselves, and
 * logical lines (brackets and backslashes join physical lines).
 * https://docs.python.org/3/reference/lexical_analysis.html
 */

export interface PyString {
  /** Offset of the prefix (or the opening quote when there is none). */
  start: number;
  /** Offset just past the closing quote. */
  end: number;
  /** Lower-cased prefix: "", "f", "rb"... */
  prefix: string;
  /** The text between the quotes, escapes left as written. */
  value: string;
}

export interface PySource {
  /** Same length as the text: comments become spaces, string contents \x01. */
  masked: string;
  strings: PyString[];
  /** [start, end) of each logical line. */
  lines: [number, number][];
}

export const maskChar = "\x01";
const prefixChars = new Set("rRbBuUfF");

export function parsePython(text: string): PySource {
  const masked: string[] = [];
  const strings: PyString[] = [];
  const lines: [number, number][] = [];
  let depth = 0;
  let lineStart = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "#") {
      const stop = text.indexOf("\n", i);
      const close = stop < 0 ? text.length : stop;
      masked.push(" ".repeat(close - i));
      i = close;
      continue;
    }
    const prefix = c === '"' || c === "'" || prefixChars.has(c) ? /^[rRbBuUfF]{0,2}(?='|")/.exec(text.slice(i, i + 3)) : null;
    if (prefix && (prefix[0] === "" || !/\w/.test(text[i - 1] ?? ""))) {
      const quoteAt = i + prefix[0].length;
      const end = stringEnd(text, quoteAt);
      const quote = text.startsWith(text[quoteAt]!.repeat(3), quoteAt) && end - quoteAt >= 6 ? 3 : 1;
      strings.push({ start: i, end, prefix: prefix[0].toLowerCase(), value: text.slice(quoteAt + quote, Math.max(quoteAt + quote, end - quote)) });
      masked.push(text.slice(i, quoteAt + quote), maskChar.repeat(Math.max(0, end - quote - quoteAt - quote)), text.slice(Math.max(quoteAt + quote, end - quote), end));
      i = end;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") depth++;
    else if ((c === ")" || c === "]" || c === "}") && depth > 0) depth--;
    else if (c === "\n" && depth === 0 && text[i - 1] !== "\\") {
      lines.push([lineStart, i]);
      lineStart = i + 1;
    }
    masked.push(c);
    i++;
  }
  if (lineStart < text.length) lines.push([lineStart, text.length]);
  return { masked: masked.join(""), strings, lines };
}

/** Offset just past the string literal whose opening quote is at `at`. */
function stringEnd(text: string, at: number): number {
  const q = text[at]!;
  const triple = text.startsWith(q.repeat(3), at);
  if (triple) {
    let i = at + 3;
    while (i < text.length) {
      if (text[i] === "\\") i += 2;
      else if (text.startsWith(q.repeat(3), i)) return i + 3;
      else i++;
    }
    return text.length;
  }
  let i = at + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\\") i += 2;
    else if (c === q) return i + 1;
    else if (c === "\n") return i;
    else i++;
  }
  return text.length;
}

/** The string literal starting at an offset, if any. */
export function stringAt(source: PySource, offset: number): PyString | undefined {
  let lo = 0;
  let hi = source.strings.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = source.strings[mid]!;
    if (s.start === offset) return s;
    if (s.start < offset) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** From an opening bracket in the masked text, the offset of its matching close. */
export function closingBracket(masked: string, open: number): number {
  let depth = 0;
  for (let i = open; i < masked.length; i++) {
    const c = masked[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if ((c === ")" || c === "]" || c === "}") && --depth === 0) return i;
  }
  return masked.length;
}

/** Splits the arguments between brackets at top-level commas: [start, end) of each. */
export function splitArguments(masked: string, open: number, close: number): [number, number][] {
  const parts: [number, number][] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open + 1; i < close; i++) {
    const c = masked[i];
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push([start, i]);
      start = i + 1;
    }
  }
  if (masked.slice(start, close).trim() !== "") parts.push([start, close]);
  return parts;
}
