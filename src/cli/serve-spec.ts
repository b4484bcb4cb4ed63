import { configOptions } from "./config-options.ts";
import type { CommandSpec } from "./options.ts";

export const serveSpec: CommandSpec = {
  name: "serve",
  description: "take Alertmanager alerts and run checks; remediate through rules behind safety gates; keep every incident's timeline",
  argument: { name: "[args...]", description: "(none)" },
  options: [
    ...configOptions,
    { key: "listen", long: "listen", value: "host:port", description: "address for the API and webhooks (default: server.listen, else 127.0.0.1:9797)" },
    { key: "journal", long: "journal", value: "path", description: "journal file (default $OPSKIT_JOURNAL or ~/.local/state/opskit/journal.db); without server.token, the API token opskit serve generates is kept beside it in server.token" },
    { key: "dryRun", long: "dry-run", description: "record what each rule would run, run nothing" },
    { key: "policy", long: "policy", value: "file", description: "org policy file (YAML): denials no remediation can lift (default: policy: in the config)" },
    { key: "json", long: "json", description: "log one JSON event per line" },
  ],
};

export const demoSpec: CommandSpec = {
  name: "demo",
  description: "self-healing in one minute: three services on loopback, checks and a rule; one service is killed and opskit brings it back",
  argument: { name: "[args...]", description: "(none)" },
  options: [{ key: "keep", long: "keep", description: "keep the demo's config, logs and journal" }],
};
