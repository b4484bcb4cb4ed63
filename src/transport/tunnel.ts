import { ExitCode } from "../errors.ts";
import type { Connection, Framer } from "./connect.ts";
import { PhaseClock, PhaseError } from "./phase.ts";

const MAX_HEAD_BYTES = 16 * 1024;

/** Frames a proxy's answer to CONNECT: its head alone (a 2xx has no body; TLS follows). */
class ConnectReply implements Framer<{ status: number; reason: string }> {
  private text = "";

  push(chunk: Uint8Array): { status: number; reason: string } | undefined {
    this.text += Buffer.from(chunk).toString("latin1");
    const end = this.text.indexOf("\r\n\r\n");
    if (end < 0) {
      if (this.text.length > MAX_HEAD_BYTES) throw new PhaseError("proxy", "E_PROXY_PARSE", `the proxy's answer to CONNECT exceeds ${MAX_HEAD_BYTES} bytes`);
      return undefined;
    }
    const line = this.text.slice(0, this.text.indexOf("\r\n"));
    const match = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(line);
    if (!match) throw new PhaseError("proxy", "E_PROXY_PARSE", `the proxy answered CONNECT with ${JSON.stringify(line.slice(0, 60))}`, { hint: "check that the proxy URL names an HTTP proxy" });
    return { status: Number(match[1]), reason: match[2] ?? "" };
  }

  end(): never {
    throw new PhaseError("proxy", "E_PROXY_CLOSED", "the proxy closed the connection before answering CONNECT");
  }
}

/**
 * Asks an HTTP proxy for a tunnel to `authority` (host:port) with CONNECT,
 * timed as the proxy phase; TLS to the origin then starts over the same
 * connection. `authorization` is the Proxy-Authorization value, if any.
 */
export async function openTunnel(conn: Connection, authority: string, authorization: string | undefined, clock: PhaseClock): Promise<void> {
  clock.enter("proxy");
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nuser-agent: opskit\r\n`;
  if (authorization !== undefined) head += `proxy-authorization: ${authorization}\r\n`;
  conn.write(`${head}\r\n`);
  const reply = await conn.frame(new ConnectReply());
  if (reply.status === 407) {
    throw new PhaseError("proxy", "E_PROXY_AUTH", `the proxy asks for credentials (407 ${reply.reason})`.trimEnd(), {
      hint: "give them in the proxy URL, http://USER:PASSWORD@proxy:port (from an environment variable)",
      exitCode: ExitCode.transport,
    });
  }
  if (reply.status < 200 || reply.status > 299) {
    throw new PhaseError("proxy", "E_PROXY_CONNECT", `the proxy refused a tunnel to ${authority}: ${reply.status} ${reply.reason}`.trimEnd(), {
      hint: "check the proxy's rules for this host and port (many allow CONNECT to port 443 only), or bypass it with --noproxy",
    });
  }
  clock.finish();
}
