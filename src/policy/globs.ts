import { compileGlob, globTokens, tokensOverlap, type GlobOptions, type GlobToken } from "../glob/index.ts";

/*
 * Policy globs, over whole command lines and URLs: `*` any run of characters
 * (spaces and slashes included), `?` one character, `\*` `\?` `\\`
 * themselves and any other backslash itself (so `grep 'a\|b'` reads as
 * written); a glob matches the whole text, both trimmed. The run-time check
 * matches rendered values; the audit asks whether an unrendered one could
 * match, a `{{ }}` reading as `*`.
 */

const policyGlobs: GlobOptions = { escapes: "glob" };

/** Whether a policy glob matches the whole text, both trimmed. */
export function matchGlob(pattern: string, text: string): boolean {
  return compileGlob(pattern.trim(), policyGlobs).test(text.trim());
}

/** Unrendered text: each `{{ ... }}` is a `*`, everything else itself. */
function templateTokens(text: string): GlobToken[] {
  const tokens: GlobToken[] = [];
  const parts = text.trim().split(/(\{\{.*?\}\})/s);
  parts.forEach((part, i) => {
    if (i % 2 === 1) tokens.push({ kind: "star" });
    else for (const char of part) tokens.push({ kind: "char", char });
  });
  return tokens;
}

/** Whether a glob could match the text once its templates render. */
export function couldMatch(glob: string, templated: string): boolean {
  return tokensOverlap(globTokens(glob.trim(), policyGlobs), templateTokens(templated));
}

/** What a templated value stands for in a command: anything (code), or a run without blanks or shell operators (data: it stays within its word). */
const dataStar: GlobToken = { kind: "star", except: " \t\n;&|<>()`" };

/**
 * Whether a glob could match a command once its templates render, where
 * `roles` says for each `{{ }}` (in order) whether its value stays data or can
 * become code. The text marks each template with the private-use character
 * U+E000 + its index (placeholders `templatePlaceholder` writes).
 */
export function couldMatchCommand(glob: string, marked: string, roles: readonly ("data" | "code")[]): boolean {
  const tokens: GlobToken[] = [];
  for (const char of marked.trim()) {
    const index = char.charCodeAt(0) - 0xe000;
    const role = index >= 0 && index < roles.length ? roles[index] : undefined;
    tokens.push(role === "code" ? { kind: "star" } : role === "data" ? dataStar : { kind: "char", char });
  }
  return tokensOverlap(globTokens(glob.trim(), policyGlobs), tokens);
}

/** The mark for the template at `index` in couldMatchCommand's text. */
export const templatePlaceholder = (index: number) => String.fromCharCode(0xe000 + index);

/** Whether some text matches both globs. */
export function globsOverlap(a: string, b: string): boolean {
  return tokensOverlap(globTokens(a.trim(), policyGlobs), globTokens(b.trim(), policyGlobs));
}
