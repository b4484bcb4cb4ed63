import { ExitCode, usageError } from "../errors.ts";
import { openConnection, PhaseError, resolveHost, type Connection, type PhaseClock } from "../transport/index.ts";
import { bareHost } from "./url.ts";
import type { Observation, ProbeContext, Prober } from "./types.ts";

declare module "./types.ts" {
  interface Observation {
    smtp?: SmtpObservation;
  }
}

export interface SmtpObservation {
  /** The greeting's reply code: 220 when the service is ready (RFC 5321 4.2, 4.3.2). */
  code: number;
  /** The greeting's text, its lines without their codes, joined by "\n". */
  banner: string;
  /** The EHLO reply's code; 0 when EHLO was not sent because the greeting was not 220. */
  ehloCode: number;
  /** The name the server gives for itself on the EHLO reply's first line. */
  domain: string;
  /** EHLO keywords, upper-cased, with their parameters ("" for none): { SIZE: "10240000", STARTTLS: "" }. */
  extensions: Record<string, string>;
}

interface SmtpSpec {
  host: string;
  port: number;
  tls: boolean;
  servername: string;
  /** The name sent with EHLO. */
  ehlo: string;
}

export interface Reply {
  code: number;
  lines: string[];
}

/** RFC 5321 4.5.3.1.5 caps a reply line at 512 octets; this is generous to servers that are not, and bounds a stream of junk. */
const MAX_REPLY_BYTES = 64 * 1024;
/** A reply line: three digits, then a space, a hyphen (more lines follow) or nothing (RFC 5321 4.2.1). */
const REPLY_LINE = /^(\d{3})(?:([ -])(.*))?$/s;
/** What an unfinished reply line may hold so far without being something else (its CR may be in already). */
const REPLY_START = /^(\d{0,3}|\d{3}[ -].*|\d{3}\r)$/s;
const EHLO_NAME = /^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;

function parseSmtp(url: URL, raw: string): SmtpSpec {
  if (url.username || url.password || (url.pathname !== "" && url.pathname !== "/") || url.hash) {
    throw usageError("E_TARGET_URL", `target "${raw}": an SMTP target is a host and port`, `write it as ${url.protocol}//HOST:PORT, with ?ehlo=NAME to choose the EHLO name`);
  }
  const tls = url.protocol === "smtps:";
  for (const key of url.searchParams.keys()) {
    if (key !== "ehlo" && !(tls && key === "servername")) throw usageError("E_TARGET_URL", `target "${raw}": unknown parameter "${key}"`, tls ? "smtps:// takes ehlo= and servername=" : "smtp:// takes ehlo=");
  }
  // Checked strictly: the name goes into the command line, so CR or LF in it would inject a command.
  const ehlo = url.searchParams.get("ehlo") ?? "localhost";
  if (!EHLO_NAME.test(ehlo)) throw usageError("E_SMTP_EHLO", `target "${raw}": "${ehlo}" is not a host name for EHLO`, "use a domain name or an address literal such as [192.0.2.1]");
  const host = bareHost(url);
  return { host, port: url.port ? Number(url.port) : tls ? 465 : 25, tls, servername: url.searchParams.get("servername") ?? host, ehlo };
}

/** Talk that is not SMTP: whatever answers on this port is something else (exit 2, as for SSH). */
const notSmtp = (clock: PhaseClock, what: string) =>
  new PhaseError(clock.phase, "E_SMTP_PROTOCOL", `not an SMTP server: ${what}`, { exitCode: ExitCode.check, hint: "check the port: an SMTP server greets with 220 ..." });

/**
 * Reads replies off a connection, one at a time; what arrives past the end of
 * one reply is kept for the next. Bare LF line ends are accepted, as most
 * clients do.
 */
export function replyReader(conn: Connection, clock: PhaseClock) {
  let text = "";
  let first = true;
  return async function next(awaiting: string): Promise<Reply> {
    const lines: string[] = [];
    let code: string | undefined;
    while (true) {
      const end = text.indexOf("\n");
      if (end >= 0) {
        const line = text.slice(0, end).replace(/\r$/, "");
        text = text.slice(end + 1);
        const match = REPLY_LINE.exec(line);
        if (!match) throw notSmtp(clock, JSON.stringify(line.slice(0, 40)));
        if (code !== undefined && match[1] !== code) throw notSmtp(clock, `a reply's lines carry codes ${code} and ${match[1]}`);
        code = match[1]!;
        lines.push(match[3] ?? "");
        if (match[2] !== "-") return { code: Number(code), lines };
        continue;
      }
      if (!REPLY_START.test(text)) throw notSmtp(clock, JSON.stringify(text.slice(0, 40)));
      if (text.length > MAX_REPLY_BYTES) throw notSmtp(clock, `no end to ${awaiting} in its first 64 KiB`);
      const chunk = await conn.read();
      if (chunk === null) {
        // Silence then close is a transport failure, as is a reply cut short.
        const told = first ? "before sending anything" : `before ${awaiting} was complete`;
        throw new PhaseError(clock.phase, "E_SMTP_CLOSED", `server closed the connection ${told}`, { hint: first ? "the server may refuse this client, or be overloaded" : undefined });
      }
      if (first) {
        // The wait for the greeting is the server's banner delay: firstByte, as for SSH.
        clock.finish();
        clock.enter("transfer");
        first = false;
      }
      text += Buffer.from(chunk).toString("latin1");
    }
  };
}

function describeEhlo(reply: Reply): Pick<SmtpObservation, "ehloCode" | "domain" | "extensions"> {
  const [greeting = "", ...keywords] = reply.lines;
  const extensions: Record<string, string> = {};
  for (const line of keywords) {
    const [keyword = "", ...params] = line.trim().split(/\s+/);
    if (keyword) extensions[keyword.toUpperCase()] = params.join(" ");
  }
  // A refusal's text is an explanation, not a name and extensions.
  if (reply.code !== 250) return { ehloCode: reply.code, domain: "", extensions: {} };
  return { ehloCode: reply.code, domain: greeting.trim().split(/\s+/)[0] ?? "", extensions };
}

/**
 * smtp://host[:port] and smtps://host[:port] (implicit TLS, RFC 8314): reads
 * the greeting, sends EHLO and reads its extensions, then says QUIT without
 * waiting for the goodbye, which would only add a round trip (and a hang to
 * time out on) to a verdict already made.
 */
export const smtpProber: Prober<SmtpSpec> = {
  kind: "smtp",
  schemes: ["smtp", "smtps"],
  parse: parseSmtp,
  async run(spec, context: ProbeContext): Promise<Observation> {
    const { clock, signal } = context;
    clock.enter("dns");
    const resolved = await resolveHost(spec.host, signal);
    if (resolved.dnsMs !== undefined) clock.timings.dns = resolved.dnsMs;
    const tls = spec.tls ? { servername: spec.servername, insecure: context.insecure, ca: context.ca } : undefined;
    const conn = await openConnection({ address: resolved.address, port: spec.port, tls, clock, signal });
    try {
      clock.enter("firstByte");
      const next = replyReader(conn, clock);
      const greeting = await next("the greeting");
      const smtp: SmtpObservation = { code: greeting.code, banner: greeting.lines.join("\n"), ehloCode: 0, domain: "", extensions: {} };
      if (greeting.code === 220) {
        conn.write(`EHLO ${spec.ehlo}\r\n`);
        Object.assign(smtp, describeEhlo(await next("the EHLO reply")));
      }
      clock.finish();
      conn.write("QUIT\r\n");
      return { ip: resolved.address, ...(conn.tls ? { tls: conn.tls } : {}), smtp };
    } finally {
      conn.close();
    }
  },
  judge({ smtp }) {
    if (!smtp) return "no SMTP greeting";
    if (smtp.code !== 220) return `greeting ${smtp.code}${smtp.banner ? ` ${smtp.banner.split("\n")[0]}` : ""}`;
    return smtp.ehloCode === 250 ? undefined : `EHLO answered ${smtp.ehloCode}`;
  },
  status: ({ smtp }) => smtp && String(smtp.code),
  scope: {
    variables: { smtp: { fields: { code: "int", banner: "string", ehloCode: "int", domain: "string", extensions: { map: "string" } } } },
    values: ({ smtp }) => ({ smtp: smtp && { ...smtp, code: BigInt(smtp.code), ehloCode: BigInt(smtp.ehloCode) } }),
  },
};
