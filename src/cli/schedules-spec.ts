import { configOptions } from "./config-options.ts";
import { journalOption } from "./journal-spec.ts";
import { defineCommand } from "./options.ts";
import { outputOption } from "./output-format.ts";

export const schedulesSpec = defineCommand({
  name: "schedules",
  description: "scheduled workflows (schedule: in the config): each one's next times and its last fire from the journal, by whichever server ran it",
  options: {
    ...configOptions,
    count: { kind: "integer", value: "n", default: "3", min: 1, description: "next times to show per schedule" },
    json: { kind: "boolean", description: "one JSON line per schedule" },
    ...outputOption,
    ...journalOption,
  },
  examples: [
    { text: "Each schedule's next three times and its last fire", command: "opskit schedules" },
    { text: "The next ten, as YAML", command: "opskit schedules --count 10 -o yaml" },
  ],
});
