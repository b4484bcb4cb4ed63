import { configOptions } from "../config-options.ts";
import { journalOption } from "../journal-spec.ts";
import { defineCommand, defineOptions } from "../options.ts";
import { varOptions } from "../vars.ts";

const policyOption = defineOptions({
  policy: {
    kind: "string",
    value: "file",
    description: "org policy file (YAML): denials no workflow can lift, checked before every action runs (default: policy: in the config)",
  },
});

/** --json, --stream, -v and --journal: how a run is shown and where it is recorded. */
export const outputOptions = defineOptions({
  json: { kind: "boolean", description: "one JSON event per line" },
  stream: { kind: "boolean", description: "print remote output live, each line prefixed with its host" },
  verbose: {
    kind: "count",
    short: "v",
    description: "on stderr, each SSH connection: address, user, auth methods, host-key decision, command, timings (-vv more detail, -vvv ssh2's own debug lines)",
  },
  ...journalOption,
});

export const runSpec = defineCommand({
  name: "run",
  description: "run a workflow from opskit.yaml across its targets; exit 0 all ok, 1 unreachable targets, 2 failed steps",
  argument: { name: "<workflow>", description: "workflow name" },
  options: {
    ...configOptions,
    limit: { kind: "string", short: "l", value: "selector", description: "narrow the workflow's targets, e.g. zone=a or name=web-1*" },
    ...varOptions,
    dryRun: { kind: "boolean", description: "check the run (vars, permissions, secrets) and print the plan (batches, rendered commands), touching nothing; with --json one JSON line per target and step" },
    ...policyOption,
    ...outputOptions,
  },
});

export const execSpec = defineCommand({
  name: "exec",
  description: "run one command on every target a selector matches: opskit exec 'role=web' -- uptime",
  argument: { name: "<args...>", description: "a selector, then -- and the command" },
  options: {
    ...configOptions,
    concurrency: { kind: "integer", value: "n", min: 1, description: "targets in flight at once (default: defaults.concurrency, else 32)" },
    timeout: { kind: "duration", value: "duration", default: "5m", description: "command timeout" },
    dryRun: { kind: "boolean", description: "print the targets and the command and touch nothing; with --json one JSON line per target" },
    ...policyOption,
    ...outputOptions,
  },
});

export const runsSpec = defineCommand({
  name: "runs",
  description: "runs in the journal: opskit runs [list] | runs show ID | runs resume ID",
  argument: { name: "[args...]", description: "list (default), show ID or resume ID" },
  options: {
    limit: { kind: "integer", value: "n", default: "20", min: 1, description: "how many runs to list" },
    json: { kind: "boolean", description: "JSON output" },
    stream: { kind: "boolean", description: "resume: print remote output live" },
    verbose: { ...outputOptions.verbose, description: `resume: ${outputOptions.verbose.description}` },
    ...journalOption,
    config: { ...configOptions.config, description: "the config whose journal: names the journal (default: the current directory's, if any)" },
  },
});
