import type { Target } from "../../inventory/index.ts";
import { secrets } from "../../observe/index.ts";
import type { SshTrace } from "../../transport/ssh/index.ts";

/**
 * -v, -vv, -vvv: what each SSH connection does, on stderr in the `debugN:`
 * lines `ssh -v` users read, each naming its target. A rendered command may
 * hold a secret var's value: every line is masked on its way out.
 */
export function verboseTrace(level: number, write: (line: string) => void): SshTrace | undefined {
  if (level <= 0) return undefined;
  return { level: Math.min(level, 3), line: (endpoint, at, text) => write(secrets.redact(`debug${at}: ${endpoint.name}: ${text}`)) };
}

/** -vv: each host's settings as resolved (address, port, user, keys, ProxyJump, known_hosts) and where they were defined. */
export function describeTargets(targets: readonly Target[], write: (line: string) => void): void {
  for (const target of targets) {
    if (target.source === "local" || target.kube) continue;
    const parts = [
      `${target.user}@${target.address}:${target.port}`,
      `keys ${target.keys.join(", ") || "none (ssh-agent if running)"}`,
      ...(target.proxyJump ? [`ProxyJump ${target.proxyJump}`] : []),
      ...(target.knownHostsFiles ? [`known_hosts ${target.knownHostsFiles.join(", ")}`] : []),
      ...(target.hostKeyNotes ?? []),
    ];
    write(secrets.redact(`debug2: ${target.name}: settings ${parts.join("; ")} (from ${target.source})`));
  }
}
