/*
 * Absolute path patterns for log files: `*` and `?` within one path
 * component (the one glob matcher, component by component, so a star never
 * crosses a /), expanded by reading the directories they name.
 */
import { readdir } from "node:fs/promises";
import { basename } from "node:path";
import { compileGlob, globTokens, type Glob } from "../../glob/index.ts";

export interface PathPattern {
  pattern: string;
  /** Literal components, and globs for components with a wildcard. */
  parts: Array<string | Glob>;
  /** The deepest directory named without a wildcard: where new matches appear. */
  base: string;
}

/** Compressed rotations are never read as text. */
const COMPRESSED = [".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"];

function component(text: string): string | Glob {
  const tokens = globTokens(text, { escapes: "glob" });
  if (tokens.every((token) => token.kind === "char")) return tokens.map((token) => (token.kind === "char" ? token.char : "")).join("");
  return compileGlob(text, { escapes: "glob" });
}

export function compilePathPattern(pattern: string): PathPattern {
  const parts = pattern.split("/").filter((part) => part !== "" && part !== ".").map(component);
  const firstGlob = parts.findIndex((part) => typeof part !== "string");
  const literal = (firstGlob < 0 ? parts.slice(0, -1) : parts.slice(0, firstGlob)) as string[];
  return { pattern, parts, base: `/${literal.join("/")}` };
}

/** Excludes: a pattern without / is held to the file's name, one with / to its whole path. */
export function compileExcludes(patterns: readonly string[]): (path: string) => boolean {
  const globs = patterns.map((pattern) => ({ byName: !pattern.includes("/"), glob: compileGlob(pattern, { escapes: "glob" }) }));
  return (path) => {
    if (COMPRESSED.some((suffix) => path.endsWith(suffix))) return true;
    const name = basename(path);
    return globs.some(({ byName, glob }) => glob.test(byName ? name : path));
  };
}

async function entries(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch {
    return []; // missing or unreadable: nothing matches there (yet)
  }
}

/** Paths that the pattern names and that exist as directory entries now (not yet stat-ed: the caller keeps regular files). */
export async function expandPathPattern(pattern: PathPattern): Promise<string[]> {
  let found = [""];
  for (const [index, part] of pattern.parts.entries()) {
    const last = index === pattern.parts.length - 1;
    if (typeof part === "string") {
      found = found.map((prefix) => `${prefix}/${part}`);
      continue;
    }
    const next: string[] = [];
    for (const prefix of found) {
      for (const name of await entries(prefix || "/")) if (part.test(name)) next.push(`${prefix}/${name}`);
    }
    found = next;
    if (found.length === 0 && !last) break;
  }
  return found;
}
