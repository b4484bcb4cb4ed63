// opskit agent: kernel events and logs read at the edge (one file per source
// kind in sources/), counted in per-second windows, judged by CEL rules, and
// delivered as alerts to opskit serve, with backpressure and a disk spool
// instead of loss. The runtime loads only when the agent runs.
export type { AgentEvent, AgentSource, SourceContext } from "./types.ts";
export type { AgentConfigInput, AgentSettings, CompiledAgent, ConfiguredSource } from "./compile.ts";
export type { AgentAlert } from "./rules.ts";
export type { AgentHandle, AgentRunOptions } from "./run.ts";
export type { OnceResult } from "./once.ts";
export type { AgentPlan } from "./plan.ts";
export { AGENT_JIT_POLICY, releaseStartupPages, setJitPolicy } from "./footprint.ts";
import type { LoadedAgentConfig } from "../config/index.ts";
import type { ConfigPath } from "../schema/index.ts";
import type { AgentConfigInput, CompiledAgent } from "./compile.ts";
import type { AgentPlan } from "./plan.ts";
import type { AgentAlert } from "./rules.ts";

/** Checks and compiles agent: (sources against their kinds' schemas, rules, templates), errors at file:line:col. */
export async function compileAgent(loaded: AgentConfigInput): Promise<CompiledAgent> {
  return (await import("./compile.ts")).compileAgent(loaded);
}

/** A compiled agent as plain data, to leave the thread that loaded and checked the config. */
export async function planOf(agent: CompiledAgent, loaded: LoadedAgentConfig): Promise<AgentPlan> {
  return (await import("./plan.ts")).planOf(agent, loaded);
}

/** The agent from its plan, its rules compiled again; and where() over agent: and observability:. */
export async function agentFromPlan(plan: AgentPlan): Promise<{ agent: CompiledAgent; where: (path: ConfigPath) => string }> {
  return (await import("./plan.ts")).agentFromPlan(plan);
}

/** Starts the agent; resolves once every source runs. */
export async function startAgent(agent: CompiledAgent, options: import("./run.ts").AgentRunOptions): Promise<import("./run.ts").AgentHandle> {
  return (await import("./run.ts")).startAgent(agent, options);
}

/** Reads each source once, evaluates the rules, returns the alerts that would be sent. */
export async function runAgentOnce(agent: CompiledAgent, notice: (line: string) => void): Promise<import("./once.ts").OnceResult> {
  return (await import("./once.ts")).runAgentOnce(agent, notice);
}

/** The generic-alert body opskit serve takes for one alert. */
export async function alertPayloads(alerts: readonly AgentAlert[]): Promise<Record<string, unknown>[]> {
  const { alertPayload } = await import("./rules.ts");
  return alerts.map(alertPayload);
}

/** The JSON Schema of one agent.sources entry, from the registry's kinds, for `opskit schema`. */
export async function agentSourceJsonSchema(): Promise<Record<string, unknown>> {
  const [{ z }, { createSchemaKit }, { sourceEntrySchema }] = await Promise.all([import("zod"), import("../schema/index.ts"), import("./schema.ts")]);
  const { $schema: _, ...schema } = z.toJSONSchema(sourceEntrySchema(createSchemaKit(z)), { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return schema;
}

/** --once --send: posts the alerts now, no spool; throws (exit 1) if the server does not take them. */
export async function sendAlertsOnce(url: string, token: string | undefined, alerts: readonly AgentAlert[], timeoutMs: number): Promise<void> {
  return (await import("./delivery.ts")).postAlertsOnce(url, token, alerts, timeoutMs);
}
