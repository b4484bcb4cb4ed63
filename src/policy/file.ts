import { normalize, resolve } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import type { YamlDocument } from "../schema/index.ts";
import { configError, type OpsError } from "../errors.ts";
import type { Policy } from "./types.ts";

/*
 * The org policy file (YAML): `deny: { commands, hosts, http, kube, sudo }` and
 * `require: { permissions: true }`. YAML, zod and selectors load on first
 * use: the policy module's face must stay light.
 */

/** Reads and validates a policy file; errors point at file:line:col. The document is kept for positions. */
export async function readPolicyFile(path: string, cwd = process.cwd()): Promise<{ policy: Policy; doc: YamlDocument }> {
  const [{ z }, { readYamlDocument, validateYaml }, { parseSelector }] = await Promise.all([import("zod"), import("../schema/index.ts"), import("../inventory/index.ts")]);
  const source = normalize(path);
  let text: string;
  try {
    text = await Bun.file(resolve(cwd, path)).text();
  } catch (error) {
    throw configError("E_POLICY_READ", `cannot read policy file ${source}: ${(error as Error).message}`, "check --policy, or policy: in the config (relative to the config's directory)");
  }
  const globs = z.array(z.string().min(1));
  const schema = z
    .object({
      deny: z
        .object({
          commands: globs.optional().describe("commands no workflow may run (ssh, exec, script), e.g. ['rm -rf *']"),
          hosts: z.string().optional().describe("selector of targets no workflow may act on, e.g. env=prod"),
          http: globs.optional().describe("URLs no workflow may call (http, probe, wait, notify)"),
          kube: globs.optional().describe("Kubernetes operations no workflow may do (kube), as VERB KIND/NAME or VERB NAMESPACE/KIND/NAME, e.g. ['delete *', 'restart kube-system/*']"),
          sudo: z.boolean().optional().describe("true: no command may use sudo"),
        })
        .strict()
        .default({}),
      require: z.object({ permissions: z.boolean().default(false).describe("every workflow must declare permissions") }).strict().default({ permissions: false }),
    })
    .strict();
  const doc = readYamlDocument(text, source);
  const parsed = validateYaml(doc.value ?? {}, schema, doc.where);
  if (parsed.deny.hosts !== undefined) {
    try {
      parseSelector(parsed.deny.hosts);
    } catch (error) {
      throw configError("E_POLICY_SELECTOR", `${doc.where(["deny", "hosts"])}: ${(error as Error).message}`, (error as OpsError).hint ?? "write a selector such as env=prod");
    }
  }
  return { policy: { source, deny: parsed.deny, require: parsed.require, where: (at) => doc.where(at) }, doc };
}

/** Reads a policy file; errors point at file:line:col. */
export async function loadPolicy(path: string, cwd = process.cwd()): Promise<Policy> {
  return (await readPolicyFile(path, cwd)).policy;
}

/** The policy a command runs under: `--policy FILE` (relative to the working directory), else the config's `policy:` (relative to the config). */
export async function configuredPolicy(loaded: Pick<LoadedConfig, "config" | "baseDir">, override?: string): Promise<Policy | undefined> {
  if (override) return loadPolicy(override);
  const path = loaded.config.policy;
  if (!path) return undefined;
  const policy = await loadPolicy(resolve(loaded.baseDir, path));
  return { ...policy, source: normalize(path) };
}
