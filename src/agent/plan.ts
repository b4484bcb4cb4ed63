import type { AgentRule, LoadedAgentConfig, ObservabilityConfig } from "../config/index.ts";
import type { ConfigPath } from "../schema/index.ts";
import type { AgentSettings, CompiledAgent } from "./compile.ts";
import { compileAgentRules } from "./rules.ts";
import { agentSources } from "./sources/index.ts";

/**
 * A checked agent config as plain data: the form in which it leaves the
 * thread that loads and checks it (YAML, zod and every schema built stay in
 * that thread and go when it ends, instead of sitting in the agent's heap
 * for months). Its rules are as written, since compiled CEL cannot cross
 * threads; every place under agent: and observability: comes along, so
 * messages still name file:line:col.
 */
export interface AgentPlan {
  settings: AgentSettings;
  sources: { name: string; kind: string; spec: unknown; key: string }[];
  rules: AgentRule[];
  observability: ObservabilityConfig;
  files: string[];
  /** Each file as written: the secret references anywhere in it are registered all the same. */
  written: unknown[];
  /** "file:line:col" of each node under agent: and observability:, by its path as JSON. */
  places: Record<string, string>;
}

/** The plan of an agent compiled from the config (the checking thread's side). */
export function planOf(agent: CompiledAgent, loaded: LoadedAgentConfig): AgentPlan {
  return {
    settings: agent.settings,
    sources: agent.sources.map(({ name, kind, spec, key }) => ({ name, kind, spec, key })),
    rules: loaded.config.agent?.rules ?? [],
    observability: loaded.config.observability,
    files: loaded.files,
    written: loaded.written,
    places: placesOf(loaded),
  };
}

function placesOf(loaded: LoadedAgentConfig): Record<string, string> {
  const places: Record<string, string> = { "[]": loaded.where([]) };
  const visit = (value: unknown, path: (string | number)[]): void => {
    const key = JSON.stringify(path);
    if (!(key in places)) places[key] = loaded.where(path);
    if (Array.isArray(value)) value.forEach((item, i) => visit(item, [...path, i]));
    else if (value !== null && typeof value === "object") for (const [name, item] of Object.entries(value)) visit(item, [...path, name]);
  };
  for (const file of loaded.written) {
    for (const section of ["agent", "observability"]) {
      const value = (file as Record<string, unknown> | null)?.[section];
      if (value !== undefined) visit(value, [section]);
    }
  }
  return places;
}

/** where() over a plan's places: a path the files do not hold is where the nearest part of it that they do is, as loadConfig says it. */
export function whereOf(plan: Pick<AgentPlan, "places">): (path: ConfigPath) => string {
  return (path) => {
    for (let length = path.length; length > 0; length--) {
      const place = plan.places[JSON.stringify(path.slice(0, length))];
      if (place !== undefined) return place;
    }
    return plan.places["[]"]!;
  };
}

/**
 * The agent from its plan (the agent's side): each source's kind from the
 * registry, the rules compiled again; and where() over the whole config
 * (observability: included) for what the agent resolves later.
 */
export async function agentFromPlan(plan: AgentPlan): Promise<{ agent: CompiledAgent; where: (path: ConfigPath) => string }> {
  const place = whereOf(plan);
  const where = (path: (string | number)[]) => place(["agent", ...path]);
  const { rules, clock } = await compileAgentRules(plan.rules, (index, ...path) => where(["rules", index, ...path]), plan.sources.map((source) => source.name), plan.settings.windowsMs);
  const agent: CompiledAgent = { settings: plan.settings, sources: plan.sources.map((source) => ({ ...source, source: agentSources[source.kind]! })), rules, clock, where };
  return { agent, where: place };
}
