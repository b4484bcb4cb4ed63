import { configOptions } from "./config-options.ts";
import { serverJournalOption } from "./journal-spec.ts";
import { defineCommand } from "./options.ts";

export const serveSpec = defineCommand({
  name: "serve",
  description: "take Alertmanager alerts and run checks; remediate through rules behind safety gates; keep every incident's timeline",
  options: {
    ...configOptions,
    listen: { kind: "string", value: "host:port", description: "address for the API and webhooks (default: server.listen, else 127.0.0.1:9797)" },
    ...serverJournalOption,
    replica: { kind: "string", value: "name", description: "this server's name among the replicas sharing a PostgreSQL journal (default host:port); shown by GET /api/v1/cluster" },
    advertiseUrl: { kind: "string", value: "url", description: "where the other replicas and operators reach this one, for GET /api/v1/cluster (default server.publicUrl, else http://HOST:PORT)" },
    dryRun: { kind: "boolean", description: "record what each rule would run, run nothing" },
    policy: { kind: "string", value: "file", description: "org policy file (YAML): denials no remediation can lift (default: policy: in the config)" },
    json: { kind: "boolean", description: "log one JSON event per line" },
    logLevel: {
      kind: "choice",
      choices: ["trace", "debug", "info", "warn", "error", "fatal", "silent"],
      hint: "e.g. --log-level warn",
      description: "the least severe line the server log writes, in either format (default: observability.logLevel, else info); --json's events are not filtered",
    },
    logFormat: {
      kind: "choice",
      choices: ["text", "json"],
      default: "text",
      hint: "e.g. --log-format json",
      description: "text: lines for people (events on stdout, notices on stderr); json: one JSON object a line on stderr (level, time, msg, trace_id; notices, warnings, errors with their stacks, and a line per event unless --json prints events on stdout)",
    },
  },
  examples: [
    { text: "Serve with the current directory's opskit.yaml", command: "opskit serve" },
    { text: "Record what rules would run, run nothing", command: "opskit serve --dry-run --listen 0.0.0.0:9797" },
    { text: "Logs as JSON for a collector", command: "opskit serve --log-format json --log-level warn" },
  ],
});

export const demoSpec = defineCommand({
  name: "demo",
  description: "self-healing in one minute: three services on loopback, checks and a rule; one service is killed and opskit brings it back",
  options: { keep: { kind: "boolean", description: "keep the demo's config, logs and journal" } },
  examples: [
    { text: "Watch opskit bring a killed service back", command: "opskit demo" },
    { text: "Keep its config and journal to look at afterwards", command: "opskit demo --keep" },
  ],
});
