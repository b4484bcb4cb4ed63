import { defineCommand } from "./options.ts";

export const auditSpec = defineCommand({
  name: "audit",
  description: "find risky ops patterns in shell and Python scripts and opskit workflows (with ShellCheck when installed); text, JSON or SARIF",
  argument: { name: "[paths...]", description: "files and directories to audit (default: the current directory)" },
  options: {
    format: { kind: "choice", choices: ["text", "json", "sarif"], default: "text", hint: "e.g. --format sarif -o audit.sarif", description: "output format" },
    failOn: { kind: "choice", choices: ["error", "warning", "never"], default: "error", hint: "e.g. --fail-on warning", description: "exit 2 when a finding at or above this severity remains" },
    noShellcheck: { kind: "boolean", description: "do not run ShellCheck even when it is installed" },
    policy: { kind: "string", value: "policy.yaml", description: "check workflows against an org policy (deny: commands, hosts, http, sudo; require: permissions)" },
    output: { kind: "string", short: "o", value: "file", description: "write the report to this file instead of stdout" },
  },
  examples: [
    { text: "Audit the scripts in this repository", command: "opskit audit" },
    { text: "SARIF for code scanning, failing on warnings", command: "opskit audit scripts/ --format sarif -o audit.sarif --fail-on warning" },
    { text: "Hold workflows to the org policy", command: "opskit audit opskit.yaml --policy policy.yaml" },
  ],
});
