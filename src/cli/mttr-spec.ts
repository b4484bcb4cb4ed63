import { configOptions } from "./config-options.ts";
import { journalOption } from "./journal-spec.ts";
import { defineCommand } from "./options.ts";

export const mttrSpec = defineCommand({
  name: "mttr",
  description: "time to detect, isolate, recover and resolve from the incident journal, and what automation changed",
  options: {
    since: { kind: "string", value: "30d|DATE", description: "incidents started since then (default 30d; all history with --compare before:)" },
    until: { kind: "string", value: "DATE", description: "and before this date (default now); dates are UTC" },
    by: { kind: "string", value: "key", description: "group by service, alertname, rule, severity or label:NAME" },
    compare: { kind: "string", value: "how", description: "automated (vs manual), before:DATE (vs from it) or window:30d (vs the window before)" },
    format: { kind: "choice", choices: ["table", "json", "markdown", "html"], default: "table", hint: "e.g. --format html -o mttr.html", description: "output format" },
    output: { kind: "string", short: "o", value: "file", description: "write to this file instead of stdout" },
    ...journalOption,
    config: { ...configOptions.config, description: "the config whose journal: names the journal (default: the current directory's, if any)" },
  },
  examples: [
    { text: "The last 30 days by service", command: "opskit mttr --by service" },
    { text: "What automation changed, as an HTML report", command: "opskit mttr --compare automated --format html -o mttr.html" },
  ],
});
