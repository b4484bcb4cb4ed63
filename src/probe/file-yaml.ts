// The YAML form of a -f target file: its schema (zod) and how entries are
// built from it. Loaded only for a YAML file: a plain list of URLs needs
// neither zod nor the YAML parser, which cost milliseconds of startup.
import { z } from "zod";
import { parseYaml } from "../schema/index.ts";
import type { TargetEntry } from "./file.ts";

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

/** Entries of a YAML target file (`targets:`, optional `defaults:`), each with its file:line:col. */
export function readYamlTargets(text: string, file: string): TargetEntry[] {
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
