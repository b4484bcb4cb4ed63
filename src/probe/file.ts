import { configError } from "../errors.ts";

/** A target as written in a -f file, before its URL is parsed. */
export interface TargetEntry {
  url: string;
  name?: string;
  labels: Record<string, string>;
  expect: string[];
  timeout?: string;
  retries?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Follow redirects (overrides -L), at most maxRedirects. */
  followRedirects?: boolean;
  maxRedirects?: number;
  /** Proxy URL ('' for none) and the hosts that bypass it (comma-separated). */
  proxy?: string;
  noProxy?: string;
  /** Files relative to the target file's directory. */
  tls?: { ca?: string; cert?: string; key?: string; insecure?: boolean };
  /** file:line:col of the entry, for error messages. */
  where: string;
}

/**
 * Reads targets from a file: YAML (`targets:` with per-target expectations and
 * labels) when it ends in .yaml/.yml or starts with `targets:`, otherwise one
 * target per line with `#` comments.
 */
export async function readTargetFile(file: string): Promise<TargetEntry[]> {
  let text: string;
  try {
    text = file === "-" ? await Bun.stdin.text() : await Bun.file(file).text();
  } catch (error) {
    throw configError("E_INPUT_READ", `cannot read target file ${file}: ${(error as Error).message}`, "check the path and its permissions");
  }
  // The includes() first: the multiline pattern alone takes milliseconds over a long list.
  const yaml = /\.ya?ml$/i.test(file) || ((text.includes("defaults") || text.includes("targets")) && /^\s*(defaults|targets)\s*:/m.test(text));
  if (!yaml) return readLines(text, file);
  return (await import("./file-yaml.ts")).readYamlTargets(text, file);
}

function readLines(text: string, file: string): TargetEntry[] {
  const entries: TargetEntry[] = [];
  text.split("\n").forEach((line, index) => {
    const content = (line.includes("#") ? line.replace(/(^|\s)#.*$/, "") : line).trim();
    if (content) entries.push({ url: content, labels: {}, expect: [], where: `${file}:${index + 1}` });
  });
  return entries;
}
