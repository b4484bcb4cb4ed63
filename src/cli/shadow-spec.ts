import { configOptions } from "./config-options.ts";
import { journalOption } from "./journal-spec.ts";
import { defineCommand, describedAs } from "./options.ts";
import { outputOption } from "./output-format.ts";
import { outputOptions } from "./run/spec.ts";
import { varOptions } from "./vars.ts";

export const shadowSpec = defineCommand({
  name: "shadow",
  description:
    "prove a replacement behaves like the legacy script: shadow NAME --legacy CMD --candidate CMD|workflow:NAME (exit 0 all agreed, 2 a mismatch, 1 a side could not run); shadow report [NAME]; shadow reset NAME",
  argument: { name: "<args...>", description: "NAME to compare and record under, or report [NAME], or reset NAME" },
  subcommands: ["report", "reset"],
  examples: [
    { text: "Compare the legacy script with a workflow, five times", command: "opskit shadow rotate-logs --legacy ./rotate.sh --candidate workflow:rotate-logs --runs 5" },
    { text: "How each comparison went so far", command: "opskit shadow report rotate-logs" },
  ],
  options: {
    ...configOptions,
    legacy: { kind: "string", value: "cmd", description: "the legacy command, run with /bin/sh in the current directory" },
    candidate: { kind: "string", value: "cmd|workflow:NAME", description: "the replacement: a command, or a workflow whose compared step (shadow.step, else the last) runs on its first target" },
    normalize: {
      kind: "list",
      value: "regex=>repl",
      description: "replace matches in both outputs before comparing (repeatable), e.g. '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z=>TS'",
    },
    compare: { kind: "string", value: "aspects", default: "stdout,exit", description: "what must agree: stdout (text, trailing whitespace ignored), exit, json (parsed, key order ignored)" },
    runs: { kind: "integer", value: "n", default: "1", min: 1, description: "compare this many times, one run after the other" },
    timeout: { kind: "duration", value: "duration", default: "5m", description: "each side's timeout; its process group is killed" },
    limit: { kind: "string", short: "l", value: "selector", description: "workflow candidate: narrow its targets (the first one is compared)" },
    ...describedAs(varOptions, "workflow candidate: "),
    ...describedAs({ verbose: outputOptions.verbose }, "workflow candidate: "),
    json: { kind: "boolean", description: "one JSON line per comparison, then a summary (report: one line per name)" },
    ...outputOption,
    ...journalOption,
  },
});
