import { existsSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ExitCode, OpsError, usageError } from "../errors.ts";
import type { OptionsOf } from "./options.ts";
import type { initSpec } from "./init-spec.ts";

/** A concrete host of ~/.ssh/config: its Host name and what its own block says of it. */
export interface SshHost {
  name: string;
  hostName?: string;
  user?: string;
  port?: string;
}

/**
 * The hosts a user's ssh config names (Host lines without *, ? or !), with
 * HostName, User and Port from the blocks that name them, first value
 * winning as in ssh. Enough to start an inventory; opskit's ssh_config
 * source reads the file fully (Include, Match) when the config uses it.
 */
export function sshConfigHosts(text: string): SshHost[] {
  const hosts = new Map<string, SshHost>();
  let current: SshHost[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [keyword = "", ...args] = line.split(/\s*=\s*|\s+/).filter((word) => word !== "");
    const key = keyword.toLowerCase();
    if (key === "host") {
      current = args
        .filter((pattern) => !/[*?!]/.test(pattern))
        .map((name) => {
          const host = hosts.get(name) ?? { name };
          hosts.set(name, host);
          return host;
        });
    } else if (key === "match") current = [];
    else if (args[0] !== undefined) {
      const field = ({ hostname: "hostName", user: "user", port: "port" } as const)[key as "hostname" | "user" | "port"];
      if (field) for (const host of current) host[field] ??= args[0];
    }
  }
  return [...hosts.values()];
}

/** A YAML scalar that reads back as the same string: plain when that is safe, else double-quoted (JSON's quoting is YAML's). */
function scalar(text: string): string {
  return /^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$/.test(text) && !/^(true|false|null|yes|no|on|off|~)$/i.test(text) && !/^[0-9.]+$/.test(text) ? text : JSON.stringify(text);
}

function inventoryLines(hosts: readonly SshHost[], sshConfig: string): string[] {
  if (hosts.length === 0) {
    return [
      "# Your hosts: name, address and labels that selectors pick them by.",
      "# (No ~/.ssh/config Host entries were found; one example host instead.)",
      "inventory:",
      "  hosts:",
      "    web-1: { address: 192.0.2.10, user: deploy, labels: { role: web } }",
      "  # Or read them from files: sources: [{ hosts: hosts.txt }, { ssh_config: ~/.ssh/config }]",
    ];
  }
  return [
    `# Your hosts, from the Host entries of ${sshConfig}. Add labels (role, zone, ...)`,
    "# to pick them with selectors such as role=web; or replace the list with",
    `#   sources: [{ ssh_config: ${sshConfig} }]   (reads it as ssh does, Include and all)`,
    "inventory:",
    "  hosts:",
    ...hosts.map((host) => {
      const fields = [`address: ${scalar(host.hostName ?? host.name)}`];
      if (host.user) fields.push(`user: ${scalar(host.user)}`);
      if (host.port && /^\d+$/.test(host.port)) fields.push(`port: ${host.port}`);
      // YAML allows an implicit key of at most 1024 characters; a longer name takes the explicit form.
      const key = scalar(host.name);
      return key.length > 1000 ? `    ? ${key}\n    : { ${fields.join(", ")} }` : `    ${key}: { ${fields.join(", ")} }`;
    }),
  ];
}

/** The starter opskit.yaml: inventory, one check, one workflow, one rule, each commented. */
export function starterConfig(hosts: readonly SshHost[], sshConfig: string): string {
  return [
    "# opskit.yaml, written by `opskit init`. Check it with `opskit validate`;",
    "# `opskit schema opskit.schema.json` gives editors completion for every key.",
    "",
    "defaults:",
    "  hostKeyChecking: strict # host keys must be in ~/.ssh/known_hosts",
    "  stepTimeout: 5m",
    "",
    ...inventoryLines(hosts, sshConfig),
    "",
    "# Checks run under `opskit serve`: each probes on its interval and raises its",
    "# own alert (these labels) after failureThreshold failures in a row.",
    "checks:",
    "  - name: web-health",
    "    probe: http://127.0.0.1:8080/health",
    "    expect: ['status == 200']",
    "    interval: 30s",
    "    failureThreshold: 3",
    "    labels: { alertname: WebDown, service: web, severity: critical }",
    "",
    "# Workflows: steps run on the targets a selector picks (`opskit run uptime`).",
    "workflows:",
    "  uptime:",
    "    description: how long each host has been up, and its load",
    "    targets: name=*",
    "    steps:",
    "      - name: uptime",
    "        ssh: uptime",
    "",
    "# Rules: which alerts run which workflow, behind safety gates.",
    "rules:",
    "  - name: look-at-web",
    "    match: { alertname: WebDown }",
    "    run: uptime",
    "    cooldown: 10m # no new run for the same alert within this",
    "    maxAttempts: 1 # per incident, then escalate",
    "",
  ].join("\n");
}

/** `opskit init [-c DIR] [--force]`: writes the starter config; never replaces one without --force. */
export async function initCommand(_positionals: string[], options: OptionsOf<typeof initSpec>): Promise<number> {
  const dir = resolve(options.config ?? process.cwd());
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw usageError("E_INIT_DIR", `${dir} is not a directory`, "create it first, or give -c an existing directory");
  const file = join(dir, "opskit.yaml");
  if (existsSync(file) && !options.force) {
    throw new OpsError({ code: "E_INIT_EXISTS", message: `${file} already exists`, hint: "keep it, or replace it with opskit init --force", exitCode: ExitCode.usage });
  }
  const sshConfig = join(homedir(), ".ssh", "config");
  const text = await readFile(sshConfig, "utf8").catch(() => "");
  const hosts = sshConfigHosts(text);
  await writeFile(file, starterConfig(hosts, hosts.length > 0 ? "~/.ssh/config" : sshConfig));
  console.log(`wrote ${file} (${hosts.length > 0 ? `${hosts.length} host${hosts.length === 1 ? "" : "s"} from ~/.ssh/config` : "an example host"}); next: opskit validate${options.config ? ` -c ${options.config}` : ""}`);
  return ExitCode.ok;
}
