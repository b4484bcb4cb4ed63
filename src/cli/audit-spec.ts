import type { CommandSpec } from "./options.ts";

export const auditSpec: CommandSpec = {
  name: "audit",
  description: "find risky ops patterns in shell and Python scripts and opskit workflows (with ShellCheck when installed); text, JSON or SARIF",
  argument: { name: "[paths...]", description: "files and directories to audit (default: the current directory)" },
  options: [
    { key: "format", long: "format", value: "text|json|sarif", default: "text", description: "output format" },
    { key: "failOn", long: "fail-on", value: "error|warning|never", default: "error", description: "exit 2 when a finding at or above this severity remains" },
    // commander reads --no-shellcheck as shellcheck: false; the fast parser as noShellcheck: true. auditCommand accepts both.
    { key: "noShellcheck", long: "no-shellcheck", description: "do not run ShellCheck even when it is installed" },
    { key: "policy", long: "policy", value: "policy.yaml", description: "check workflows against an org policy (deny: commands, hosts, http, sudo; require: permissions)" },
    { key: "output", long: "output", short: "o", value: "file", description: "write the report to this file instead of stdout" },
  ],
};
