import { ExitCode } from "../errors.ts";
import { openConnection, PhaseError, resolveHost } from "../transport/index.ts";
import { bareHost } from "./url.ts";
import type { Observation, ProbeContext, Prober } from "./types.ts";

declare module "./types.ts" {
  interface Observation {
    ssh?: { banner: string; protoVersion: string; software: string };
  }
}

interface SshSpec {
  host: string;
  port: number;
}

const MAX_PREAMBLE_BYTES = 8192;

/**
 * ssh://host[:port]: reads the server's identification string (RFC 4253 4.2).
 * A server may send other lines before the one starting "SSH-".
 */
export const sshProber: Prober<SshSpec> = {
  kind: "ssh",
  schemes: ["ssh"],
  parse: (url) => ({ host: bareHost(url), port: url.port ? Number(url.port) : 22 }),
  async run(spec, context: ProbeContext): Promise<Observation> {
    const { clock, signal } = context;
    clock.enter("dns");
    const resolved = await resolveHost(spec.host, signal);
    if (resolved.dnsMs !== undefined) clock.timings.dns = resolved.dnsMs;
    const conn = await openConnection({ address: resolved.address, port: spec.port, clock, signal });
    try {
      clock.enter("firstByte");
      let text = "";
      let first = true;
      while (true) {
        const chunk = await conn.read();
        if (chunk === null) {
          // Silence then close is a transport failure; talk without a banner means something else answers on this port.
          throw new PhaseError(clock.phase, "E_SSH_BANNER", first ? "server closed the connection before sending anything" : `not an SSH server: ${JSON.stringify(text.slice(0, 40))}`, {
            exitCode: first ? ExitCode.transport : ExitCode.check,
            hint: first ? undefined : "check the port: an SSH server greets with SSH-2.0-...",
          });
        }
        if (first) {
          clock.finish();
          clock.enter("transfer");
          first = false;
        }
        text += Buffer.from(chunk).toString("latin1");
        const banner = text.split(/\r?\n/).slice(0, -1).find((line) => line.startsWith("SSH-"));
        if (banner !== undefined) {
          clock.finish();
          conn.write("SSH-2.0-opskit_probe\r\n");
          const [, protoVersion = "", software = ""] = /^SSH-([^-]*)-(\S*)/.exec(banner) ?? [];
          return { ip: resolved.address, ssh: { banner, protoVersion, software } };
        }
        if (text.length > MAX_PREAMBLE_BYTES) throw new PhaseError("transfer", "E_SSH_BANNER", "no SSH banner in the first 8 KiB", { exitCode: ExitCode.check });
      }
    } finally {
      conn.close();
    }
  },  status: (result) => result.ssh && (result.ssh.software || result.ssh.protoVersion),
  scope: {
    variables: { ssh: { fields: { banner: "string", protoVersion: "string", software: "string" } } },
    values: ({ ssh }) => ({ ssh }),
  },
};
