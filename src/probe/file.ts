import { z } from "zod";
import { parseYaml } from "../schema/index.ts";
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
  /** file:line:col of the entry, for error messages. */
  where: string;
}

const targetObject = z
  .object({
    url: z.string().min(1),
    name: z.string().optional(),
    labels: z.record(z.string(), z.coerce.string()).default({}),
    expect: z.union([z.string(), z.array(z.string())]).optional(),
    timeout: z.string().optional(),
    retries: z.number().int().min(0).max(100).optional(),
    method: z.string().optional(),
    headers: z.record(z.string(), z.coerce.string()).optional(),
    body: z.string().optional(),
  })
  .strict();

const targetFile = z
  .object({
    defaults: z
      .object({
        labels: z.record(z.string(), z.coerce.string()).default({}),
        expect: z.union([z.string(), z.array(z.string())]).optional(),
      })
      .strict()
      .default({ labels: {} }),
    targets: z.array(z.union([z.string().min(1), targetObject])).min(1, "list at least one target"),
  })
  .strict();

const list = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

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
  const yaml = /\.ya?ml$/i.test(file) || /^\s*(defaults|targets)\s*:/m.test(text);
  if (!yaml) return readLines(text, file);
  const { value, where } = parseYaml(text, file, targetFile);
  const defaults = value.defaults;
  return value.targets.map((entry, index) => {
    const base = typeof entry === "string" ? { url: entry, labels: {} } : entry;
    return {
      ...base,
      labels: { ...defaults.labels, ...base.labels },
      expect: [...list(defaults.expect), ...list("expect" in base ? base.expect : undefined)],
      where: where(["targets", index]),
    };
  });
}

function readLines(text: string, file: string): TargetEntry[] {
  const entries: TargetEntry[] = [];
  text.split("\n").forEach((line, index) => {
    const content = line.replace(/(^|\s)#.*$/, "").trim();
    if (content) entries.push({ url: content, labels: {}, expect: [], where: `${file}:${index + 1}` });
  });
  return entries;
}
