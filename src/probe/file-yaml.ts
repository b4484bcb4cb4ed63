// The YAML form of a -f target file: its schema (zod) and how entries are
// built from it. Loaded only for a YAML file: a plain list of URLs needs
// neither zod nor the YAML parser, which cost milliseconds of startup.
import { dirname, resolve } from "node:path";
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
    followRedirects: z.boolean().optional(),
    maxRedirects: z.number().int().min(-1).optional(),
    proxy: z.string().optional(),
    noProxy: z.union([z.string(), z.array(z.string())]).optional(),
    tls: z
      .object({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional(), insecure: z.boolean().optional() })
      .strict()
      .optional(),
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

/** TLS files named in a target file are read relative to its directory. */
function relativeTo(file: string, tls: NonNullable<TargetEntry["tls"]>): Partial<NonNullable<TargetEntry["tls"]>> {
  const dir = file === "-" ? process.cwd() : dirname(file);
  const out: Record<string, string> = {};
  for (const key of ["ca", "cert", "key"] as const) if (tls[key]) out[key] = resolve(dir, tls[key]!);
  return out;
}

const list = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Entries of a YAML target file (`targets:`, optional `defaults:`), each with its file:line:col. */
export function readYamlTargets(text: string, file: string): TargetEntry[] {
  const { value, where } = parseYaml(text, file, targetFile);
  const defaults = value.defaults;
  return value.targets.map((entry, index): TargetEntry => {
    const base = typeof entry === "string" ? { url: entry, labels: {} } : entry;
    const { noProxy, tls } = base as { noProxy?: string | string[]; tls?: TargetEntry["tls"] };
    return {
      ...(base as Omit<typeof base, "noProxy">),
      ...(noProxy !== undefined ? { noProxy: Array.isArray(noProxy) ? noProxy.join(",") : noProxy } : {}),
      ...(tls ? { tls: { ...tls, ...relativeTo(file, tls) } } : {}),
      labels: { ...defaults.labels, ...base.labels },
      expect: [...list(defaults.expect), ...list("expect" in base ? base.expect : undefined)],
      where: where(["targets", index]),
    };
  });
}
