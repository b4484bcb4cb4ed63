import { defineCommand } from "./options.ts";

export const initSpec = defineCommand({
  name: "init",
  description: "write a commented starter opskit.yaml: hosts from ~/.ssh/config (else an example host), a probe check, a workflow and a rule; opskit validate accepts it",
  options: {
    config: { kind: "string", short: "c", value: "dir", description: "the directory to write opskit.yaml in (default: the current directory)" },
    force: { kind: "boolean", description: "replace an opskit.yaml that is already there" },
  },
  examples: [
    { text: "Start a config in the current directory", command: "opskit init && opskit validate" },
    { text: "In another directory, replacing what is there", command: "opskit init -c ops/ --force" },
  ],
});
