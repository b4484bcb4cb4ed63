// opskit.yaml: found, parsed with source positions, validated by the zod
// schema composed of every kind's part and merged (opskit.d/, --env), so every
// config error names file:line:col and says how to fix it. zod is loaded only
// when needed. YAML reading and secret references live in schema/, below.
export type { AgentSections, LoadOptions, LoadedAgentConfig, LoadedConfig } from "./load.ts";
export type { Config, Workflow, Step, Strategy, Defaults, Overlay, ActionKind, Check, ProbeModule, Rule, ServerConfig, ObservabilityConfig, Permissions, Shadow, AgentConfig, AgentRule } from "./schema.ts";
export { serverDefaults } from "./server-defaults.ts";
export { effectiveDefaults, type EffectiveDefaults } from "./defaults.ts";
export { otlpExport, parseOtlpHeaders } from "./otlp.ts";

import type { LoadOptions, LoadedAgentConfig, LoadedConfig } from "./load.ts";

/** The config of a directory without one: every section at its default (zod loads here). */
export async function emptyConfig(baseDir: string): Promise<LoadedConfig> {
  const { emptyConfig: empty } = await import("./empty.ts");
  return empty(baseDir);
}

/** Finds and loads the config: `-c PATH`, else ./opskit.yaml, else ./opskit.d/*.yaml; then applies `--env`. */
export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const { loadConfig: load } = await import("./load.ts");
  return load(options);
}

/** Loads agent: and observability: only (what opskit agent reads), validated at file:line:col; the rest of the files parsed, not validated. */
export async function loadAgentConfig(options: LoadOptions): Promise<LoadedAgentConfig> {
  const { loadAgentConfig: load } = await import("./load.ts");
  return load(options);
}

/** The JSON Schema of opskit.yaml, generated from the zod schema, for editors. */
export async function configJsonSchema(): Promise<Record<string, unknown>> {
  const [{ z }, { configSchema }] = await Promise.all([import("zod"), import("./schema.ts")]);
  const { $schema, ...generated } = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return {
    $schema: $schema ?? "https://json-schema.org/draft/2020-12/schema",
    title: "opskit.yaml",
    description: "opskit configuration: vars, inventory, defaults, environments and workflows",
    ...generated,
  };
}
