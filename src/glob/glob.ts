/*
 * The one glob matcher: `*` any run of characters (spaces, slashes and
 * newlines included), `?` one character (a code point), anything else
 * itself, over the whole text. What differs between its users is an option:
 * which backslashes escape (selectors: every one; policy globs: only \*, \?
 * and \\, so that `grep 'a\|b'` reads as written; OpenSSH patterns: none)
 * and whether letters match either case (host names). No regular
 * expression is built, so no pattern can blow one up.
 */

/**
 * `except` narrows a star to runs without those characters (a templated value
 * that stays one shell word: no blanks, no operators). Only tokensOverlap reads
 * it; globs written by people never have it.
 */
export type GlobToken = { kind: "star"; except?: string } | { kind: "one" } | { kind: "char"; char: string };

export interface GlobOptions {
  /**
   * Which backslashes escape the next character: "all" (`\x` is x: selectors),
   * "glob" (only `\*` `\?` `\\`; any other backslash is itself: policy globs over
   * command lines), "none" (a backslash is a character: OpenSSH). Default "none".
   */
  escapes?: "all" | "glob" | "none";
  /** Letters match either case (host names in ssh_config and known_hosts). */
  ignoreCase?: boolean;
}

/** Something that says whether a text matches it: a compiled glob, a pattern list, a hashed known_hosts name. */
export interface Matcher {
  test(text: string): boolean;
}

export interface Glob extends Matcher {
  readonly pattern: string;
  readonly tokens: readonly GlobToken[];
}

const foldCase = (c: string) => c.toLowerCase();

/** A glob's tokens: runs of `*` are one star; with ignoreCase, characters are folded to lower case. */
export function globTokens(pattern: string, options: GlobOptions = {}): GlobToken[] {
  const escapes = options.escapes ?? "none";
  const chars = Array.from(pattern);
  const tokens: GlobToken[] = [];
  const literal = (c: string) => tokens.push({ kind: "char", char: options.ignoreCase ? foldCase(c) : c });
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const next = chars[i + 1];
    const escaped = c === "\\" && next !== undefined && (escapes === "all" || (escapes === "glob" && (next === "*" || next === "?" || next === "\\")));
    if (escaped) {
      literal(next);
      i++;
    } else if (c === "*") {
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
    } else if (c === "?") tokens.push({ kind: "one" });
    else literal(c);
  }
  return tokens;
}

/**
 * Whether the tokens match the whole of the characters. Greedy with one
 * backtrack point (the last star), which is exact for `*` and `?` and keeps a
 * long text against many stars close to linear.
 */
function matchTokens(tokens: readonly GlobToken[], text: readonly string[]): boolean {
  let pi = 0;
  let ti = 0;
  let star = -1;
  let starText = 0;
  while (ti < text.length) {
    const token = tokens[pi];
    if (token && (token.kind === "one" || (token.kind === "char" && token.char === text[ti]))) {
      pi++;
      ti++;
    } else if (token?.kind === "star") {
      star = pi++;
      starText = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++starText;
    } else {
      return false;
    }
  }
  while (tokens[pi]?.kind === "star") pi++;
  return pi === tokens.length;
}

/** Compiles a glob once, to test many texts against it. */
export function compileGlob(pattern: string, options: GlobOptions = {}): Glob {
  const tokens = globTokens(pattern, options);
  const chars = options.ignoreCase ? (text: string) => Array.from(text, foldCase) : (text: string) => Array.from(text);
  return { pattern, tokens, test: (text) => matchTokens(tokens, chars(text)) };
}

/**
 * Whether some text matches both token lists: two globs overlap, or a glob
 * could match a text whose unknown parts (templates) read as stars. A search
 * over position pairs, O(|a|·|b|), no backtracking.
 */
export function tokensOverlap(a: readonly GlobToken[], b: readonly GlobToken[]): boolean {
  const width = b.length + 1;
  const seen = new Uint8Array((a.length + 1) * width);
  const stack = [0];
  seen[0] = 1;
  const push = (i: number, j: number) => {
    const key = i * width + j;
    if (!seen[key]) {
      seen[key] = 1;
      stack.push(key);
    }
  };
  while (stack.length > 0) {
    const key = stack.pop()!;
    const i = Math.floor(key / width);
    const j = key % width;
    if (i === a.length && j === b.length) return true;
    const x = a[i];
    const y = b[j];
    // A star absorbs the other side's next token, unless it is a character the star may not hold.
    const holds = (star: GlobToken & { kind: "star" }, other: GlobToken) => other.kind !== "char" || !star.except?.includes(other.char);
    if (x?.kind === "star") {
      push(i + 1, j);
      if (y && holds(x, y)) push(i, j + 1);
    }
    if (y?.kind === "star") {
      push(i, j + 1);
      if (x && holds(y, x)) push(i + 1, j);
    }
    if (x && y && x.kind !== "star" && y.kind !== "star" && (x.kind === "one" || y.kind === "one" || x.char === y.char)) push(i + 1, j + 1);
  }
  return false;
}

/** An OpenSSH pattern (ssh_config Host, known_hosts): `*` and `?`, no escapes, either case. */
export function sshPattern(pattern: string): Glob {
  return compileGlob(pattern, { ignoreCase: true });
}

/**
 * An OpenSSH pattern list (match_pattern_list in match.c: ssh_config's Host
 * and Match host, a known_hosts line's names): a name matches when some
 * pattern matches it and no negated one (`!pattern`) does. `compile` reads
 * one pattern without its `!` (known_hosts adds hashed names).
 */
export function compilePatternList(patterns: readonly string[], compile: (pattern: string) => Matcher = sshPattern): Matcher {
  const compiled = patterns.map((pattern) => {
    const negated = pattern.startsWith("!");
    return { negated, matcher: compile(negated ? pattern.slice(1) : pattern) };
  });
  return {
    test(name) {
      let matched = false;
      for (const { negated, matcher } of compiled) {
        if (!matcher.test(name)) continue;
        if (negated) return false;
        matched = true;
      }
      return matched;
    },
  };
}
