import { configOptions } from "./config-options.ts";
import { journalOption } from "./journal-spec.ts";
import { defineCommand } from "./options.ts";

export const schedulesSpec = defineCommand({
  name: "schedules",
  description: "scheduled workflows (schedule: in the config): each one's next times and its last fire from the journal, by whichever server ran it",
  argument: { name: "[args...]", description: "(none)" },
  options: {
    ...configOptions,
    count: { kind: "integer", value: "n", default: "3", min: 1, description: "next times to show per schedule" },
    json: { kind: "boolean", description: "one JSON line per schedule" },
    ...journalOption,
  },
});
