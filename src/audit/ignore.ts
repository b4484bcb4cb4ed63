import { existsSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { readBounded } from "./discover.ts";

/*
 * Files that version control ignores are not audited, as ripgrep and Semgrep
 * skip them: build output, vendored trees, local scratch. Inside a git work
 * tree git itself says which files count (`git ls-files --cached --others
 * --exclude-standard`: tracked files, and untracked ones no ignore rule
 * covers, .git/info/exclude and core.excludesFile included). Outside one, or
 * where git is not installed, the .gitignore files of the directories walked
 * are read with gitignore(5)'s rules.
 */

/** Says, while a directory tree is walked, whether a file or directory is ignored. */
export interface IgnoreRules {
  ignored(path: string, isDir: boolean): boolean;
}

/** The directory holding .git above a path (itself included), if any. */
export function workTreeOf(path: string): string | undefined {
  let dir = path;
  for (;;) {
    if (existsSync(join(dir, ".git"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** What git lists in a work tree, or undefined when git cannot say (not installed, not a repository it accepts). */
async function gitListed(root: string): Promise<Set<string> | undefined> {
  const git = Bun.which("git");
  if (!git) return undefined;
  try {
    const child = Bun.spawn([git, "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { stdout: "pipe", stderr: "ignore", stdin: "ignore", timeout: 60_000 });
    const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    if (code !== 0) return undefined;
    return new Set(out.split("\0").filter(Boolean).map((name) => join(root, name)));
  } catch {
    return undefined;
  }
}

/** The rules of git's listing: a file counts when listed, a directory when some listed file is under it. */
function listedRules(listed: Set<string>): IgnoreRules {
  const dirs = new Set<string>();
  for (const file of listed) for (let dir = dirname(file); !dirs.has(dir) && dir !== dirname(dir); dir = dirname(dir)) dirs.add(dir);
  return { ignored: (path, isDir) => (isDir ? !dirs.has(path) : !listed.has(path)) };
}

/** The ignore rules for a tree walked from `root`: git's listing when it is in a work tree and git runs, else its .gitignore files. */
export async function ignoreRulesFor(root: string): Promise<IgnoreRules> {
  const tree = workTreeOf(root);
  const listed = tree ? await gitListed(tree) : undefined;
  if (listed) return listedRules(listed);
  return gitignoreFiles(tree ?? root);
}

interface Pattern {
  regex: RegExp;
  negated: boolean;
  dirOnly: boolean;
  /** Matched against the path from the .gitignore's directory (it has a slash), else against the name alone. */
  anchored: boolean;
}

/** One .gitignore line as gitignore(5) reads it, or undefined for a blank line or a comment. */
export function parseGitignoreLine(line: string): Pattern | undefined {
  let text = line.replace(/\r$/, "");
  if (text === "" || text.startsWith("#")) return undefined;
  // Trailing blanks are dropped unless the last is escaped.
  text = text.replace(/(?<!\\)[ \t]+$/, "");
  let negated = false;
  if (text.startsWith("!")) {
    negated = true;
    text = text.slice(1);
  }
  let dirOnly = false;
  if (text.endsWith("/") && !text.endsWith("\\/")) {
    dirOnly = true;
    text = text.replace(/\/+$/, "");
  }
  if (text === "") return undefined;
  const anchored = text.includes("/");
  if (text.startsWith("/")) text = text.slice(1);
  return { regex: new RegExp(`^${globSource(text)}$`, "s"), negated, dirOnly, anchored };
}

const special = /[.*+?^${}()|[\]\\/]/g;

/** gitignore's wildmatch with FNM_PATHNAME: `*` and `?` stop at `/`; `**` spans directories as a whole segment. */
function globSource(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*" && (i === 0 || pattern[i - 1] === "/") && (i + 2 === pattern.length || pattern[i + 2] === "/")) {
      if (i + 2 === pattern.length) out += ".*";
      else {
        out += "(?:[^/]*/)*";
        i += 2;
        continue;
      }
      i++;
    } else if (c === "*") {
      while (pattern[i + 1] === "*") i++;
      out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      let start = i + 1;
      if (pattern[start] === "!" || pattern[start] === "^") start++;
      if (pattern[start] === "]") start++;
      const close = pattern.indexOf("]", start);
      if (close < 0) out += "\\[";
      else {
        let body = pattern.slice(i + 1, close);
        const negate = body.startsWith("!") || body.startsWith("^");
        if (negate) body = body.slice(1);
        out += `[${negate ? "^/" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
        i = close;
      }
    } else if (c === "\\" && i + 1 < pattern.length) out += pattern[++i]!.replace(special, "\\$&");
    else out += c.replace(special, "\\$&");
  }
  return out;
}

/** Rules from the .gitignore files found in the walked tree, deeper files before shallower, the last matching line of each deciding. */
function gitignoreFiles(top: string): IgnoreRules {
  const perDir = new Map<string, Pattern[]>();
  const patternsOf = (dir: string): Pattern[] => {
    let list = perDir.get(dir);
    if (!list) {
      const text = readBounded(join(dir, ".gitignore"), 1024 * 1024)?.toString("utf8") ?? "";
      list = text.split("\n").map(parseGitignoreLine).filter((p): p is Pattern => p !== undefined);
      perDir.set(dir, list);
    }
    return list;
  };
  return {
    ignored(path, isDir) {
      if (path === top) return false;
      // From the file's own directory up to the top: the first file with a matching line decides.
      for (let dir = dirname(path); ; dir = dirname(dir)) {
        const rel = relative(dir, path).split(sep).join("/");
        const name = rel.slice(rel.lastIndexOf("/") + 1);
        const patterns = patternsOf(dir);
        for (let i = patterns.length - 1; i >= 0; i--) {
          const p = patterns[i]!;
          if (p.dirOnly && !isDir) continue;
          if (p.regex.test(p.anchored ? rel : name)) return !p.negated;
        }
        if (dir === top || dir === dirname(dir) || !isInside(top, dir)) return false;
      }
    },
  };
}

const isInside = (top: string, dir: string) => {
  const rel = relative(top, dir);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep));
};
