import { clientOptions } from "./incidents-spec.ts";
import { defineCommand } from "./options.ts";

export const silenceSpec = defineCommand({
  name: "silence",
  description:
    "silences, as amtool's: add MATCHERS… holds remediation for alerts they match (their incidents still open), list shows active and pending ones, expire ID… ends them; through the server (--server, token as for opskit incidents), or the journal itself (--journal) when no server answers",
  argument: { name: "[args...]", description: 'add MATCHER… (name=value, name!=value, name=~regex, name!~regex, {a="1",b=~"x.*"}; a first word alone is the alertname), list [MATCHER…], expire ID…' },
  subcommands: ["add", "list", "expire"],
  examples: [
    { text: "Hold remediation of the API during a migration", command: 'opskit silence add alertname=ApiDown service=~"api.*" --for 2h --comment "migration"' },
    { text: "Active and pending silences", command: "opskit silence list" },
    { text: "Expired ones too, for one service", command: "opskit silence list --expired service=api" },
    { text: "End a silence now", command: "opskit silence expire 8f2c61d4-3b1e-4c53-9d0e-2f6a7b1c9e10" },
  ],
  options: {
    ...clientOptions,
    for: { kind: "duration", value: "duration", description: "add: how long it lasts from its start (default 1h, as amtool)" },
    start: { kind: "string", value: "time", description: "add: when it starts, ISO 8601 (default now)" },
    end: { kind: "string", value: "time", description: "add: when it ends, ISO 8601 (instead of --for)" },
    comment: { kind: "string", value: "text", description: "add: why (required, as amtool requires it)" },
    expired: { kind: "boolean", description: "list: expired silences too" },
  },
});
