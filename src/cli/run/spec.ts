import { configOptions } from "../config-options.ts";
import type { CommandSpec, OptionSpec } from "../options.ts";
import { varOptions } from "../vars.ts";

const policyOption: OptionSpec = {
  key: "policy",
  long: "policy",
  value: "file",
  description: "org policy file (YAML): denials no workflow can lift, checked before every action runs (default: policy: in the config)",
};

const outputOptions: OptionSpec[] = [
  { key: "json", long: "json", description: "one JSON event per line" },
  { key: "stream", long: "stream", description: "print remote output live, each line prefixed with its host" },
  { key: "journal", long: "journal", value: "path", description: "journal file (default $OPSKIT_JOURNAL or ~/.local/state/opskit/journal.db)" },
];

export const runSpec: CommandSpec = {
  name: "run",
  description: "run a workflow from opskit.yaml across its targets; exit 0 all ok, 1 unreachable targets, 2 failed steps",
  argument: { name: "<workflow>", description: "workflow name" },
  options: [
    ...configOptions,
    { key: "limit", long: "limit", short: "l", value: "selector", description: "narrow the workflow's targets, e.g. zone=a or name=web-1*" },
    ...varOptions,
    { key: "dryRun", long: "dry-run", description: "check the run (vars, permissions, secrets) and print the plan (batches, rendered commands), touching nothing; with --json one JSON line per target and step" },
    policyOption,
    ...outputOptions,
  ],
};

export const execSpec: CommandSpec = {
  name: "exec",
  description: "run one command on every target a selector matches: opskit exec 'role=web' -- uptime",
  argument: { name: "<args...>", description: "a selector, then -- and the command" },
  options: [
    ...configOptions,
    { key: "concurrency", long: "concurrency", value: "n", description: "targets in flight at once (default: defaults.concurrency, else 32)" },
    { key: "timeout", long: "timeout", value: "duration", default: "5m", description: "command timeout" },
    { key: "dryRun", long: "dry-run", description: "print the targets and the command and touch nothing; with --json one JSON line per target" },
    policyOption,
    ...outputOptions,
  ],
};

export const runsSpec: CommandSpec = {
  name: "runs",
  description: "runs in the journal: opskit runs [list] | runs show ID | runs resume ID",
  argument: { name: "[args...]", description: "list (default), show ID or resume ID" },
  options: [
    { key: "limit", long: "limit", value: "n", default: "20", description: "how many runs to list" },
    { key: "json", long: "json", description: "JSON output" },
    { key: "stream", long: "stream", description: "resume: print remote output live" },
    { key: "journal", long: "journal", value: "path", description: "journal file" },
  ],
};
