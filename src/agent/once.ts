import type { CompiledAgent } from "./compile.ts";
import { AgentCore } from "./core.ts";
import type { AgentAlert } from "./rules.ts";

export interface OnceResult {
  /** The firing alerts the rules raised over what the sources read, in order. */
  alerts: AgentAlert[];
  /** Events read, by source. */
  events: Record<string, number>;
  /** Sources that cannot read once (their kind has no once()), skipped. */
  skipped: string[];
}

/**
 * `opskit agent --once`: every source reads what is there now (its once()),
 * the rules see each event, the rules over windows are evaluated once at
 * the end, and the alerts that would be sent are returned. Nothing is
 * delivered, spooled or saved here.
 */
export async function runAgentOnce(agent: CompiledAgent, notice: (line: string) => void): Promise<OnceResult> {
  const alerts: AgentAlert[] = [];
  const core = new AgentCore(agent, { raise: (alert) => alerts.push(alert), notice });
  const skipped: string[] = [];
  await Promise.all(
    agent.sources.map(async (source) => {
      if (!source.source.once) {
        skipped.push(source.name);
        return;
      }
      await source.source.once(source.spec, core.contextFor(source));
    }),
  );
  core.drainAll();
  core.tick(Date.now());
  core.stop();
  const events: Record<string, number> = Object.fromEntries(agent.sources.map((source) => [source.name, 0]));
  for (const { labels, value } of core.events.values()) events[labels.source!] = (events[labels.source!] ?? 0) + value;
  return { alerts: alerts.filter((alert) => alert.status === "firing"), events, skipped };
}
