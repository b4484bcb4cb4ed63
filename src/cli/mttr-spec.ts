import type { CommandSpec } from "./options.ts";

export const mttrSpec: CommandSpec = {
  name: "mttr",
  description: "time to detect, isolate, recover and resolve from the incident journal, and what automation changed",
  argument: { name: "[args...]", description: "(none)" },
  options: [
    { key: "since", long: "since", value: "30d|DATE", description: "incidents started since then (default 30d; all history with --compare before:)" },
    { key: "until", long: "until", value: "DATE", description: "and before this date (default now); dates are UTC" },
    { key: "by", long: "by", value: "key", description: "group by service, alertname, rule, severity or label:NAME" },
    { key: "compare", long: "compare", value: "how", description: "automated (vs manual), before:DATE (vs from it) or window:30d (vs the window before)" },
    { key: "format", long: "format", value: "table|json|markdown|html", default: "table", description: "output format" },
    { key: "output", long: "output", short: "o", value: "file", description: "write to this file instead of stdout" },
    { key: "journal", long: "journal", value: "path", description: "journal file (default $OPSKIT_JOURNAL or ~/.local/state/opskit/journal.db)" },
  ],
};
