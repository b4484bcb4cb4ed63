import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { AgentConfig, LoadedConfig } from "../config/index.ts";
import { configError } from "../errors.ts";
import { parseDuration } from "../time/index.ts";
import { compileAgentRules, type CompiledAgentRule, type WindowClock } from "./rules.ts";
import { agentSources } from "./sources/index.ts";
import type { AgentSource } from "./types.ts";

/** What compiling agent: reads of a loaded config: the whole (opskit validate) or only its sections (opskit agent). */
export type AgentConfigInput = Pick<LoadedConfig, "files" | "baseDir" | "where"> & { config: { agent?: AgentConfig } };

/** agent: with its durations and sizes read, its paths resolved. */
export interface AgentSettings {
  server?: { url: string; token?: string; timeoutMs: number };
  stateDir: string;
  listen?: string;
  batchMax: number;
  lingerMs: number;
  queue: number;
  spoolMaxBytes: number;
  windowsMs: number;
}

/** One configured source: its kind's implementation and its validated spec. */
export interface ConfiguredSource {
  name: string;
  kind: string;
  source: AgentSource<unknown>;
  spec: unknown;
  /** The event field its per-key windows count by. */
  key: string;
}

/** Everything the agent runs with, checked and compiled once at load. */
export interface CompiledAgent {
  settings: AgentSettings;
  sources: ConfiguredSource[];
  rules: CompiledAgentRule[];
  clock: WindowClock;
  where(path: (string | number)[]): string;
}

const units: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** "64MiB", "10MB", 1048576 → bytes. */
export function parseByteSize(value: string | number): number {
  if (typeof value === "number") return value;
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?$/.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a size`);
  return Math.floor(Number(match[1]) * units[match[2] ?? "B"]!);
}

/** $XDG_STATE_HOME/opskit/agent (~/.local/state/opskit/agent). */
export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state"), "opskit", "agent");
}

/**
 * Reads and compiles `agent:`: each source against its kind's schema, the
 * rules (CEL, window() calls, label templates), durations and sizes; every
 * problem at its file:line:col.
 */
export async function compileAgent(loaded: AgentConfigInput): Promise<CompiledAgent> {
  const agent: AgentConfig | undefined = loaded.config.agent;
  if (!agent) throw configError("E_AGENT_CONFIG", `${loaded.files.join(", ")}: no agent: section`, "add agent: with sources: and rules: (see the README's Agent section)");
  const where = (path: (string | number)[]) => loaded.where(["agent", ...path]);
  const duration = (text: string, ...path: string[]) => parseDuration(text, `${where(path)}: agent.${path.join(".")}`);
  const windowsMs = duration(agent.windows, "windows");
  if (windowsMs < 1000 || windowsMs > 24 * 3600_000) throw configError("E_AGENT_CONFIG", `${where(["windows"])}: agent.windows ${agent.windows} is outside 1s..24h`, "keep 5m (the default) or as long as the longest window() a rule reads");
  const sources = await validateSources(loaded, agent);
  const names = sources.map((s) => s.name);
  const { rules, clock } = await compileAgentRules(agent.rules, (index, ...path) => where(["rules", index, ...path]), names, windowsMs);
  const settings: AgentSettings = {
    stateDir: agent.stateDir ? (isAbsolute(agent.stateDir) ? agent.stateDir : resolve(loaded.baseDir, agent.stateDir)) : defaultStateDir(),
    batchMax: agent.batch.max,
    lingerMs: duration(agent.batch.interval, "batch", "interval"),
    queue: agent.queue,
    spoolMaxBytes: parseByteSize(agent.spool.maxBytes),
    windowsMs,
    ...(agent.listen !== undefined ? { listen: agent.listen } : {}),
    ...(agent.server ? { server: { url: agent.server.url, ...(agent.server.token ? { token: agent.server.token } : {}), timeoutMs: duration(agent.server.timeout, "server", "timeout") } } : {}),
  };
  if (settings.spoolMaxBytes < 4096) throw configError("E_AGENT_CONFIG", `${where(["spool", "maxBytes"])}: agent.spool.maxBytes is under 4KiB`, 'give the spool room for a few alerts at least, e.g. "64MiB"');
  return { settings, sources, rules, clock, where };
}

/** Each source against its kind's own schema (from the registry), at its file:line:col; names unique. */
async function validateSources(loaded: AgentConfigInput, agent: AgentConfig): Promise<ConfiguredSource[]> {
  const [{ z }, { createSchemaKit, validateYaml }, { sourceEntrySchema }] = await Promise.all([import("zod"), import("../schema/index.ts"), import("./schema.ts")]);
  const kit = createSchemaKit(z);
  // Validated at its place in the file, so a message reads agent.sources[1].files.paths, not [1].files.paths.
  const shape = z.object({ agent: z.object({ sources: z.array(kit.schemaOf(sourceEntrySchema)) }).passthrough() }).passthrough();
  const { agent: checked } = validateYaml({ agent: { sources: agent.sources } }, shape, loaded.where);
  const seen = new Map<string, number>();
  return checked.sources.map((entry, index) => {
    const first = seen.get(entry.name);
    if (first !== undefined) {
      throw configError("E_CONFIG_DUPLICATE", `${loaded.where(["agent", "sources", index, "name"])}: agent source "${entry.name}" is already defined at ${loaded.where(["agent", "sources", first, "name"])}`, "give each source its own name");
    }
    seen.set(entry.name, index);
    const kind = Object.keys(agentSources).find((k) => entry[k] !== undefined)!;
    return { name: entry.name, kind, source: agentSources[kind]!, spec: entry[kind], key: entry.key ?? "comm" };
  });
}
