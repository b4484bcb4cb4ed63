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

/** Whether some text matches both globs. */
export function globsOverlap(a: string, b: string): boolean {
  return tokensOverlap(globTokens(a.trim(), policyGlobs), globTokens(b.trim(), policyGlobs));
}
