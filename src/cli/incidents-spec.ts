import { configOptions } from "./config-options.ts";
import type { CommandSpec, OptionSpec } from "./options.ts";

const clientOptions: OptionSpec[] = [
  { key: "server", long: "server", value: "url", description: "the opskit server (default $OPSKIT_SERVER, else server.listen from the config, else http://127.0.0.1:9797)" },
  { key: "json", long: "json", description: "print JSON (the server's answer; import: the report)" },
  { key: "journal", long: "journal", value: "path", description: "the journal file (default $OPSKIT_JOURNAL, else ~/.local/state/opskit/journal.db): import writes to it; without $OPSKIT_TOKEN or server.token, the token opskit serve generated beside it is sent" },
  ...configOptions,
];

export const incidentsSpec: CommandSpec = {
  name: "incidents",
  description: "incidents on the opskit server: list | show ID | ack ID | approve ID | resolve ID (token from $OPSKIT_TOKEN, server.token, or the one opskit serve generated beside the journal); import FILE: history from a pager's CSV or JSON export into the journal",
  argument: { name: "[args...]", description: "list (default), show ID, ack ID, approve ID, resolve ID or import FILE" },
  options: [
    ...clientOptions,
    { key: "status", long: "status", value: "open|resolved", description: "list: only these" },
    { key: "limit", long: "limit", value: "n", default: "50", description: "list: how many" },
    { key: "note", long: "note", value: "text", description: "resolve: why" },
    { key: "source", long: "source", value: "name", description: "import: the exporting tool's name, which with each row's id identifies it on re-import (default: the file's name without extension)" },
    { key: "map", long: "map", value: "field=column", repeatable: true, description: "import: the column of a field (id, title, service, severity, started, detected, acknowledged, resolved, escalated); default: the column of the field's own name, or created for started" },
    { key: "label", long: "label", value: "name=column", repeatable: true, description: "import: a label from a column" },
    { key: "mapping", long: "mapping", value: "file", description: "import: a YAML mapping file (format, timezone, origin, on_error, fields:, labels:); flags win over it" },
    { key: "format", long: "format", value: "csv|json", description: "import: the file's format (default: from its extension)" },
    { key: "timezone", long: "timezone", value: "zone", description: "import: IANA zone of timestamps written without an offset (default UTC); a skipped spring-forward time is an invalid row, a repeated fall-back time reads as its first occurrence" },
    { key: "onError", long: "on-error", value: "fail|skip", description: "import: on invalid rows, import nothing (fail, the default) or import the others and list them (skip)" },
  ],
};

export const pauseSpec: CommandSpec = { name: "pause", description: "pause automatic remediation on the server (alerts are still recorded)", argument: { name: "[args...]", description: "(none)" }, options: clientOptions };
export const resumeSpec: CommandSpec = { name: "resume", description: "resume automatic remediation on the server", argument: { name: "[args...]", description: "(none)" }, options: clientOptions };
