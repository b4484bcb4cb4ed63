import { configOptions } from "./config-options.ts";
import { serverJournalOption } from "./journal-spec.ts";
import { defineCommand, defineOptions, type OptionValues } from "./options.ts";
import { outputOption } from "./output-format.ts";

/** What every client of the server takes: where it is, its token's journal, the config, who acts. */
export const clientOptions = defineOptions({
  server: { kind: "string", value: "url", description: "the opskit server (default $OPSKIT_SERVER, else server.listen from the config, else http://127.0.0.1:9797)" },
  json: { kind: "boolean", description: "print JSON (the server's answer; import: the report)" },
  as: { kind: "string", value: "name", description: "ack, approve, deny, resolve, pause, resume, silence: who does it, as the timeline shows (default the local user name; with a shared token, what the caller says)" },
  ...outputOption,
  ...serverJournalOption,
  ...configOptions,
});

export const incidentsSpec = defineCommand({
  name: "incidents",
  description: "incidents on the opskit server: list | show ID | ack ID | approve ID | deny ID | resolve ID (token from $OPSKIT_TOKEN, server.token, or the one opskit serve generated beside the journal); list and show read the journal itself with --journal, or the config's journal when no server answers; import FILE: history from a pager's CSV or JSON export into the journal",
  argument: { name: "[args...]", description: "list (default), show ID, ack ID, approve ID, deny ID, resolve ID or import FILE" },
  subcommands: ["list", "show", "ack", "approve", "deny", "resolve", "import"],
  examples: [
    { text: "Open incidents", command: "opskit incidents list --status open" },
    { text: "One incident's timeline as JSON", command: "opskit incidents show 7 -o json" },
    { text: "Approve a held remediation", command: "opskit incidents approve 7 --note 'checked with the db team'" },
    { text: "History from a pager's export", command: "opskit incidents import pagerduty.csv --map started=created_at" },
  ],
  options: {
    ...clientOptions,
    status: { kind: "string", value: "open|resolved", description: "list: only these" },
    limit: { kind: "integer", value: "n", default: "50", min: 1, description: "list: how many" },
    note: { kind: "string", value: "text", description: "resolve, deny: why" },
    source: { kind: "string", value: "name", description: "import: the exporting tool's name, which with each row's id identifies it on re-import (default: the file's name without extension)" },
    preset: { kind: "choice", choices: ["pagerduty", "opsgenie", "incident-io"], hint: "e.g. --preset pagerduty; without one, columns are recognised by name", description: "import: the export's tool, whose column names, durations and time formats are known; --map and the mapping file win over it" },
    map: {
      kind: "list",
      value: "field=column",
      description: "import: the column of a field (id, title, service, severity, started, detected, acknowledged, remediation_started, resolved, escalated); default: the preset's column, else one of a recognised name, whatever its case and separators (started: started_at, created_at, createdAt, opened_at, triggered_at, ...; the import report lists the columns used)",
    },
    label: { kind: "list", value: "name=column", description: "import: a label from a column" },
    mapping: { kind: "string", value: "file", description: "import: a YAML mapping file (format, timezone, origin, on_error, fields:, labels:); flags win over it" },
    // Checked by import, the one verb that reads them, with its own message.
    format: { kind: "string", value: "csv|json", description: "import: the file's format (default: from its extension)" },
    timezone: {
      kind: "string",
      value: "zone",
      description: "import: IANA zone of timestamps written without an offset (default UTC); a skipped spring-forward time is an invalid row, a repeated fall-back time reads as its first occurrence",
    },
    onError: { kind: "string", value: "fail|skip", description: "import: on invalid rows, import nothing (fail, the default) or import the others and list them (skip)" },
  },
});

export const pauseSpec = defineCommand({
  name: "pause",
  description: "pause automatic remediation on the server (alerts are still recorded)",
  options: clientOptions,
  examples: [
    { text: "Stop remediation during a maintenance window", command: "opskit pause --server https://opskit.internal:9797" },
  ],
});
export const resumeSpec = defineCommand({
  name: "resume",
  description: "resume automatic remediation on the server",
  options: clientOptions,
  examples: [
    { text: "Remediate again after the window", command: "opskit resume" },
  ],
});

/** What every client of the server reads: where it is, its token's journal, the config with its defaults. */
export type ClientOptions = OptionValues<typeof clientOptions>;
