import { configOptions } from "./config-options.ts";
import { defineCommand } from "./options.ts";
import { outputOptions } from "./run/spec.ts";

export const wrapSpec = defineCommand({
  name: "wrap",
  description: "run an existing Bash or Python script as a one-step run (timeout, retries, exit map, journal): opskit wrap --timeout 10m -- ./backup.sh --full",
  argument: { name: "<args...>", description: "-- then the script (or an interpreter and the script) and its arguments" },
  examples: [
    { text: "A nightly backup with a timeout and two retries", command: "opskit wrap --timeout 30m --retries 2 -- ./backup.sh --full" },
    { text: "Exit 24 counts as ok; metrics for node_exporter", command: "opskit wrap --exit-map 24=ok --metrics-file /var/lib/node_exporter/backup.prom -- rsync -a /srv /backup" },
    { text: "Copy the script to the db hosts and run it there", command: "opskit wrap --on role=db -- ./vacuum.sh" },
  ],
  options: {
    name: { kind: "string", value: "name", description: "the run's name in the journal, as wrap:NAME (default: the script's file name)" },
    timeout: { kind: "duration", value: "duration", default: "1h", description: "per attempt; the script and everything it started are killed" },
    retries: { kind: "integer", value: "n", default: "0", min: 0, max: 99, description: "attempts after a failed one" },
    retryDelay: { kind: "duration", value: "duration", default: "5s", description: "pause before the first retry, doubling after each" },
    exitMap: { kind: "string", value: "map", description: 'how exit codes read, e.g. "24=ok,3=warning,1=failed" (unlisted: 0 ok, others failed)' },
    on: { kind: "string", value: "selector", description: "copy the script to the inventory's hosts this selector matches and run it there (default: this machine, no config needed)" },
    metricsFile: {
      kind: "string",
      value: "path",
      description: "write the last run's metrics (success, exit code, duration, time) in Prometheus text format, e.g. for node_exporter's textfile collector",
    },
    policy: { kind: "string", value: "file", description: "an org policy file whose denials apply (default: the config's policy:)" },
    ...configOptions,
    ...outputOptions,
  },
});
