import { configOptions } from "./config-options.ts";
import type { CommandSpec } from "./options.ts";
import { execSpec } from "./run/spec.ts";

export const wrapSpec: CommandSpec = {
  name: "wrap",
  description: "run an existing Bash or Python script as a one-step run (timeout, retries, exit map, journal): opskit wrap --timeout 10m -- ./backup.sh --full",
  argument: { name: "<args...>", description: "-- then the script (or an interpreter and the script) and its arguments" },
  options: [
    { key: "name", long: "name", value: "name", description: "the run's name in the journal, as wrap:NAME (default: the script's file name)" },
    { key: "timeout", long: "timeout", value: "duration", default: "1h", description: "per attempt; the script and everything it started are killed" },
    { key: "retries", long: "retries", value: "n", default: "0", description: "attempts after a failed one" },
    { key: "retryDelay", long: "retry-delay", value: "duration", default: "5s", description: "pause before the first retry, doubling after each" },
    { key: "exitMap", long: "exit-map", value: "map", description: 'how exit codes read, e.g. "24=ok,3=warning,1=failed" (unlisted: 0 ok, others failed)' },
    { key: "on", long: "on", value: "selector", description: "copy the script to the inventory's hosts this selector matches and run it there (default: this machine, no config needed)" },
    { key: "metricsFile", long: "metrics-file", value: "path", description: "write the last run's metrics (success, exit code, duration, time) in Prometheus text format, e.g. for node_exporter's textfile collector" },
    { key: "policy", long: "policy", value: "file", description: "an org policy file whose denials apply (default: the config's policy:)" },
    ...configOptions,
    ...execSpec.options.filter((option) => ["json", "stream", "journal"].includes(option.key)),
  ],
};
