import { configOptions } from "./config-options.ts";
import type { CommandSpec, OptionSpec } from "./options.ts";

const clientOptions: OptionSpec[] = [
  { key: "server", long: "server", value: "url", description: "the opskit server (default $OPSKIT_SERVER, else server.listen from the config, else http://127.0.0.1:9797)" },
  { key: "json", long: "json", description: "print the server's JSON" },
  ...configOptions,
];

export const incidentsSpec: CommandSpec = {
  name: "incidents",
  description: "incidents on the opskit server: list | show ID | ack ID | approve ID | resolve ID (token from $OPSKIT_TOKEN)",
  argument: { name: "[args...]", description: "list (default), show ID, ack ID, approve ID or resolve ID" },
  options: [
    ...clientOptions,
    { key: "status", long: "status", value: "open|resolved", description: "list: only these" },
    { key: "limit", long: "limit", value: "n", default: "50", description: "list: how many" },
    { key: "note", long: "note", value: "text", description: "resolve: why" },
  ],
};

export const pauseSpec: CommandSpec = { name: "pause", description: "pause automatic remediation on the server (alerts are still recorded)", argument: { name: "[args...]", description: "(none)" }, options: clientOptions };
export const resumeSpec: CommandSpec = { name: "resume", description: "resume automatic remediation on the server", argument: { name: "[args...]", description: "(none)" }, options: clientOptions };
