// The agent's sources: one file per kind (log files, journald, kernel events)
// behind the AgentSource contract, and the registry that maps a configured
// source's key (agent.sources[].<kind>) to its implementation.
import type { AgentSource } from "../types.ts";
import { filesSource } from "./files.ts";
import { journaldSource } from "./journald.ts";
import { kernelSource } from "./kernel.ts";

/** Every source kind, by its key in agent.sources[]; the order is the one `opskit schema` lists them in. */
const registry: Record<string, AgentSource<any>> = {
  files: filesSource,
  journald: journaldSource,
  kernel: kernelSource,
};

export const agentSources: Readonly<Record<string, AgentSource<any>>> = registry;
