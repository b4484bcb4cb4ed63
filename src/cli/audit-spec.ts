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
    exclude: { kind: "list", short: "e", value: "rules", description: "rules not to report, comma-separated and repeatable (as shellcheck -e), e.g. -e OPS-SH-005,SC2086" },
    baseline: { kind: "string", value: "file.sarif", description: "report only findings that are not in this SARIF log saved earlier (exit code from new findings only)" },
    noIgnore: { kind: "boolean", description: "audit files that .gitignore (or git) ignores too" },
  },
  examples: [
    { text: "Audit the scripts in this repository", command: "opskit audit" },
    { text: "SARIF for code scanning, failing on warnings", command: "opskit audit scripts/ --format sarif -o audit.sarif --fail-on warning" },
    { text: "Hold workflows to the org policy", command: "opskit audit opskit.yaml --policy policy.yaml" },
    { text: "Fail only on findings not in a saved report, without the errexit rule", command: "opskit audit --baseline audit.sarif -e OPS-SH-005" },
  ],
});
