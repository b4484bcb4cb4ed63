import type { Answer, DecodedPacket } from "dns-packet";
import { usageError } from "../errors.ts";
import { PhaseClock, PhaseError, abortError, ipFamily, openConnection } from "../transport/index.ts";
import type { Observation, ProbeContext, Prober } from "./types.ts";

export interface DnsAnswer {
  name: string;
  type: string;
  ttl: number;
  data: string;
}

declare module "./types.ts" {
  interface Observation {
    dns?: { server: string; rcode: string; question: { name: string; type: string }; answers: DnsAnswer[] };
  }
}

const queryTypes = ["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "NS", "PTR", "SOA"] as const;
type QueryType = (typeof queryTypes)[number];

interface DnsServer {
  address: string;
  port: number;
}

interface DnsSpec {
  name: string;
  type: QueryType;
  /** Undefined: the first nameserver in /etc/resolv.conf, looked up when the probe runs. */
  server: DnsServer | undefined;
}

/** The question is kept in the observation: judge sees only that, and needs the type. */
type DnsObservation = NonNullable<Observation["dns"]>;

/** @types/dns-packet omits the rcode the decoder sets from the header. */
type Reply = DecodedPacket & { rcode: string };
type Decode = (buf: Buffer) => DecodedPacket;
type Dgram = typeof import("node:dgram");

const serverHint = "write server= as IP or IP:PORT, e.g. server=192.0.2.53 or server=192.0.2.53:5353 or server=[2001:db8::53]:5353";

function parseServer(text: string, raw: string): DnsServer {
  // resolv.conf style bare IPv6 ("2001:db8::53") has no port; brackets are needed to add one.
  const host = !text.startsWith("[") && text.split(":").length > 2 ? `[${text}]` : text;
  let url: URL | undefined;
  try {
    url = new URL(`dns://${host}`);
  } catch {
    url = undefined;
  }
  const hostname = url?.hostname ?? "";
  const valid = url && !url.username && !url.password && url.pathname === "" && !url.search && !url.hash && url.port !== "0";
  if (!valid || !(ipFamily(hostname) === 4 || hostname.startsWith("["))) {
    throw usageError("E_DNS_SERVER", `target "${raw}": invalid server "${text}"`, serverHint);
  }
  return { address: hostname.startsWith("[") ? hostname.slice(1, -1) : hostname, port: url!.port ? Number(url!.port) : 53 };
}

function parseQueryName(url: URL, raw: string): string {
  const name = url.hostname.replace(/\.$/, "");
  const labels = name === "" ? [] : name.split(".");
  // dns-packet writes each label's length into one byte without checking it.
  if (name.length > 253 || labels.some((label) => label.length === 0 || label.length > 63)) {
    throw usageError("E_DNS_NAME", `target "${raw}": "${url.hostname}" is not a valid DNS name`, "each label is 1 to 63 characters, the whole name at most 253");
  }
  return name === "" ? "." : name;
}

export function parseDns(url: URL, raw: string): DnsSpec {
  if (url.username || url.password || url.port || (url.pathname !== "" && url.pathname !== "/") || url.hash) {
    throw usageError("E_TARGET_URL", `target "${raw}": a dns:// target is a name to look up, with the server as a parameter`, "write it as dns://NAME?type=A&server=IP:PORT");
  }
  for (const key of url.searchParams.keys()) {
    if (key !== "type" && key !== "server") throw usageError("E_TARGET_URL", `target "${raw}": unknown parameter "${key}"`, "dns:// takes type= and server=");
  }
  const type = (url.searchParams.get("type") ?? "A").toUpperCase();
  if (!(queryTypes as readonly string[]).includes(type)) {
    throw usageError("E_DNS_TYPE", `target "${raw}": unknown record type "${url.searchParams.get("type")}"`, `use one of ${queryTypes.join(", ")}`);
  }
  const server = url.searchParams.get("server");
  return { name: parseQueryName(url, raw), type: type as QueryType, server: server === null ? undefined : parseServer(server, raw) };
}

/** resolv.conf(5): without a nameserver line the resolver asks the local machine. */
async function systemNameserver(): Promise<DnsServer> {
  const text = await Bun.file("/etc/resolv.conf").text().catch(() => "");
  const line = /^[ \t]*nameserver[ \t]+([^\s#;]+)/m.exec(text);
  return { address: line?.[1] ?? "127.0.0.1", port: 53 };
}

const formatServer = (server: DnsServer) => (server.address.includes(":") ? `[${server.address}]:${server.port}` : `${server.address}:${server.port}`);

function decodeReply(decode: Decode, message: Buffer): Reply {
  let reply: DecodedPacket;
  try {
    reply = decode(message);
  } catch (error) {
    throw new PhaseError("dns", "E_DNS_MALFORMED", `malformed DNS reply: ${(error as Error).message}`, { hint: "the server sent something that is not DNS; check the server and port", cause: error });
  }
  if (reply.type !== "response") throw new PhaseError("dns", "E_DNS_MALFORMED", "the server sent a query, not a reply", { hint: "check the server and port" });
  return reply as Reply;
}

function udpFailure(error: Error, server: DnsServer): PhaseError {
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED") {
    return new PhaseError("dns", "E_CONN_REFUSED", "connection refused", { hint: `nothing answers DNS on ${formatServer(server)}; check the server address and port`, cause: error });
  }
  return new PhaseError("dns", "E_DNS_SOCKET", error.message || code || "socket error", { cause: error });
}

/**
 * Sends the query from a connected UDP socket: the kernel then hands us only
 * the server's datagrams, and reports an ICMP port-unreachable as ECONNREFUSED.
 */
async function exchangeUdp(dgram: Dgram, decode: Decode, server: DnsServer, query: Buffer, id: number, clock: PhaseClock, signal: AbortSignal): Promise<Reply> {
  const socket = dgram.createSocket(server.address.includes(":") ? "udp6" : "udp4");
  let onAbort: (() => void) | undefined;
  let strangers = 0;
  try {
    return await new Promise<Reply>((resolve, reject) => {
      onAbort = () => {
        const failure = abortError(signal, "dns");
        const note = `; ignored ${strangers} ${strangers === 1 ? "reply" : "replies"} whose id did not match the query`;
        reject(strangers > 0 && failure.code === "E_TIMEOUT" ? new PhaseError("dns", failure.code, failure.message + note, { hint: failure.hint }) : failure);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      socket.on("error", (error) => reject(udpFailure(error, server)));
      socket.on("message", (message: Buffer) => {
        // Another sender's datagram, or a spoofed one: a resolver keeps waiting for its own id.
        if (message.length < 12 || message.readUInt16BE(0) !== id) {
          strangers++;
          return;
        }
        try {
          resolve(decodeReply(decode, message));
        } catch (error) {
          reject(error);
        }
      });
      socket.connect(server.port, server.address, () => {
        // The phase starts here: Bun's first UDP connect costs milliseconds that are not the server's.
        clock.enter("dns");
        socket.send(query, (error) => error && reject(udpFailure(error, server)));
      });
    });
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
    socket.close();
  }
}

/** Failures from the shared TCP transport name its phases; for this probe they all happen while asking DNS. */
function inDnsPhase(error: unknown): never {
  if (error instanceof PhaseError && error.phase !== "dns") {
    throw new PhaseError("dns", error.code, error.message, { hint: error.hint, exitCode: error.exitCode, cause: error.cause });
  }
  throw error;
}

/** RFC 1035 4.2.2: over TCP each message is preceded by its length in two bytes. */
async function exchangeTcp(decode: Decode, server: DnsServer, query: Buffer, id: number, signal: AbortSignal): Promise<Reply> {
  // A scratch clock: the TCP connect is part of this probe's "dns" phase, not a "connect" phase of its own.
  const conn = await openConnection({ address: server.address, port: server.port, clock: new PhaseClock(), signal }).catch(inDnsPhase);
  try {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(query.length);
    conn.write(Buffer.concat([prefix, query]));
    let received = Buffer.alloc(0);
    while (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) {
      const chunk = await conn.read().catch(inDnsPhase);
      if (chunk === null) throw new PhaseError("dns", "E_DNS_TCP_CLOSED", "the server closed the TCP connection before the whole reply arrived", { hint: "the server truncated its UDP reply but does not serve DNS over TCP" });
      received = Buffer.concat([received, chunk]);
    }
    const reply = decodeReply(decode, received.subarray(2, 2 + received.readUInt16BE(0)));
    if (reply.id !== id) throw new PhaseError("dns", "E_DNS_ID", "the TCP reply's id does not match the query", { hint: "the server is broken or something on the path rewrites DNS" });
    return reply;
  } finally {
    conn.close();
  }
}

function answerData(answer: Answer): string {
  switch (answer.type) {
    case "OPT":
      return "";
    case "MX":
      return `${answer.data.preference ?? 0} ${answer.data.exchange}`;
    case "SRV":
      return `${answer.data.priority ?? 0} ${answer.data.weight ?? 0} ${answer.data.port} ${answer.data.target}`;
    case "SOA": {
      const soa = answer.data;
      return [soa.mname, soa.rname, soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum].map((v) => v ?? 0).join(" ");
    }
    case "TXT":
      // RFC 7208 3.3: a record's strings are concatenated without separators.
      return (Array.isArray(answer.data) ? answer.data : [answer.data]).map((part) => part.toString()).join("");
  }
  const data: unknown = answer.data;
  if (typeof data === "string") return data;
  return Buffer.isBuffer(data) ? data.toString("hex") : JSON.stringify(data);
}

const describeAnswer = (answer: Answer): DnsAnswer => ({
  name: answer.name,
  type: answer.type,
  ttl: answer.type === "OPT" ? 0 : (answer.ttl ?? 0),
  data: answerData(answer),
});

/**
 * dns://NAME?type=T&server=IP:PORT: one query, over UDP, and again over TCP
 * when the reply comes back truncated (RFC 1035 4.2.1: UDP carries 512 bytes).
 */
export const dnsProber: Prober<DnsSpec> = {
  kind: "dns",
  schemes: ["dns"],
  parse: parseDns,
  async run(spec, context: ProbeContext): Promise<Observation> {
    const { clock, signal } = context;
    clock.enter("dns"); // entered again once the socket is ready, so the timing is the query's round trip
    // Imported here, not at the top: they cost tens of milliseconds at startup for every other probe.
    const [dgram, packet, server] = await Promise.all([import("node:dgram"), import("dns-packet"), spec.server ?? systemNameserver()]);
    if (signal.aborted) throw abortError(signal, "dns");
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    const query = packet.encode({ type: "query", id, flags: packet.RECURSION_DESIRED, questions: [{ type: spec.type, name: spec.name, class: "IN" }] });
    let reply = await exchangeUdp(dgram, packet.decode, server, query, id, clock, signal);
    if (reply.flag_tc) reply = await exchangeTcp(packet.decode, server, query, id, signal);
    clock.finish();
    const dns: DnsObservation = {
      server: formatServer(server),
      rcode: reply.rcode,
      question: { name: spec.name, type: spec.type },
      answers: (reply.answers ?? []).map(describeAnswer),
    };
    return { ip: server.address, dns };
  },
  judge(observation) {
    const dns = observation.dns;
    if (!dns) return "no DNS reply";
    if (dns.rcode !== "NOERROR") return dns.rcode;
    const type = dns.question.type;
    return dns.answers.some((answer) => answer.type === type) ? undefined : `no ${type} records`;
  },
  status: (result) => result.dns && `${result.dns.rcode}/${result.dns.answers.length}`,
  scope: {
    variables: {
      dns: { fields: { server: "string", rcode: "string", question: { fields: { name: "string", type: "string" } }, answers: { list: { fields: { name: "string", type: "string", ttl: "int", data: "string" } } } } },
    },
    values: ({ dns }) => ({ dns: dns && { ...dns, answers: dns.answers.map((a) => ({ ...a, ttl: BigInt(a.ttl) })) } }),
  },
};
