import { configOptions } from "../config-options.ts";
import { journalOption } from "../journal-spec.ts";
import { defineCommand, defineOptions } from "../options.ts";
import { outputOption } from "../output-format.ts";
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
  ...outputOption,
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
  examples: [
    { text: "Run a workflow", command: "opskit run deploy" },
    { text: "Only on zone a, with a variable, showing the plan first", command: "opskit run deploy -l zone=a --var version=1.4.3 --dry-run" },
    { text: "Events as JSON lines for a pipeline", command: "opskit run deploy -o json" },
  ],
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
  description: "run one command on every target a selector matches, or on the hosts -H names: opskit exec 'role=web' -- uptime",
  argument: { name: "<args...>", description: "a selector (none with -H), then -- and the command" },
  examples: [
    { text: "Uptime of every web host", command: "opskit exec role=web -- uptime" },
    { text: "Ten at a time, output live", command: "opskit exec 'zone in (a,b)' --concurrency 10 --stream -- df -h /" },
    { text: "See which hosts would run it", command: "opskit exec 'name=db-*' --dry-run -- systemctl restart postgresql" },
    { text: "Hosts named on the command line, no opskit.yaml needed", command: "opskit exec -H 'root@10.0.0.5:2222,web[01-40].example.com' -- uptime" },
    { text: "As postgres, through sudo", command: "opskit exec role=db -b --become-user postgres -- psql -c 'select 1'" },
  ],
  options: {
    ...configOptions,
    hosts: {
      kind: "string",
      short: "H",
      value: "pattern|@file",
      description: "hosts instead of a selector, no opskit.yaml needed: 'root@10.0.0.5:2222,web[01-40].example.com' (ClusterShell ranges, user@ and :port per host), or @file with one pattern a line",
    },
    concurrency: { kind: "integer", value: "n", min: 1, description: "targets in flight at once (default: defaults.concurrency, else 32)" },
    timeout: { kind: "duration", value: "duration", default: "5m", description: "command timeout" },
    become: { kind: "boolean", short: "b", description: "run the command as another user on each host (Ansible's -b): --become-user (default root) through --become-method, never asking a password (sudo -n)" },
    becomeUser: { kind: "string", value: "user", description: "with -b: the user the command runs as (default: the inventory host's or group's becomeUser, else root)" },
    becomeMethod: {
      kind: "choice",
      choices: ["sudo", "doas", "su"],
      hint: "e.g. -b --become-method doas",
      description: "with -b: how to switch user (default: the inventory host's or group's becomeMethod, then defaults.becomeMethod, else sudo)",
    },
    dryRun: { kind: "boolean", description: "print the targets and the command and touch nothing; with --json one JSON line per target" },
    ...policyOption,
    ...outputOptions,
  },
});

export const runsSpec = defineCommand({
  name: "runs",
  description: "runs in the journal: opskit runs [list] | runs show ID | runs resume ID",
  argument: { name: "[args...]", description: "list (default), show ID or resume ID" },
  subcommands: ["list", "show", "resume"],
  examples: [
    { text: "The last runs", command: "opskit runs" },
    { text: "One run's steps per target, as YAML", command: "opskit runs show 42 -o yaml" },
    { text: "Carry on an interrupted run", command: "opskit runs resume 42" },
  ],
  options: {
    limit: { kind: "integer", value: "n", default: "20", min: 1, description: "how many runs to list" },
    json: { kind: "boolean", description: "JSON output" },
    ...outputOption,
    stream: { kind: "boolean", description: "resume: print remote output live" },
    verbose: { ...outputOptions.verbose, description: `resume: ${outputOptions.verbose.description}` },
    ...journalOption,
    config: { ...configOptions.config, description: "the config whose journal: names the journal (default: the current directory's, if any)" },
  },
});
