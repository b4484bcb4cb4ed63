import { configOptions } from "./config-options.ts";
import { defineCommand } from "./options.ts";
import { outputOption } from "./output-format.ts";

export const agentSpec = defineCommand({
  name: "agent",
  description: "read kernel events and logs (agent.sources), judge them with CEL rules (agent.rules) and deliver alerts to opskit serve, spooling to disk while it is unreachable",
  options: {
    ...configOptions,
    once: { kind: "boolean", description: "read what the sources hold now, evaluate the rules, print the alerts that would be sent and exit (nothing is sent without --send)" },
    send: { kind: "boolean", description: "with --once: deliver the alerts to agent.server too" },
    listen: { kind: "string", value: "host:port", description: "address for /metrics and /healthz (default: agent.listen; none when unset)" },
    json: { kind: "boolean", description: "one JSON object a line: each alert of --once, the agent's own events otherwise" },
    ...outputOption,
  },
  examples: [
    { text: "Run the agent with the config's agent: section", command: "opskit agent -c /etc/opskit" },
    { text: "Which alerts the rules would raise now, sending nothing", command: "opskit agent --once -o json" },
  ],
});
