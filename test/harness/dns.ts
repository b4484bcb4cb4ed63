import { createSocket, type Socket } from "node:dgram";
import { createServer } from "node:net";
import { decode, encode } from "dns-packet";

const DNSMASQ = "/usr/sbin/dnsmasq";

/** What the test dnsmasq serves; tests read expected data from here, not from copies. */
export const dnsRecords = {
  /** From --address; with --local, dnsmasq answers its AAAA with NXDOMAIN. */
  a: { name: "a.opskit.test", ipv4: "10.0.0.1" },
  /** A only: an AAAA query is NOERROR with no answers. */
  v4only: { name: "v4.opskit.test", ipv4: "10.0.0.3" },
  /** A and AAAA. */
  dual: { name: "b.opskit.test", ipv4: "10.0.0.2", ipv6: "fd00::2" },
  cname: { name: "www.opskit.test", target: "b.opskit.test" },
  mx: { name: "opskit.test", exchange: "mail.opskit.test", preference: 10 },
  txt: { name: "txt.opskit.test", text: "v=spf1 -all" },
  /** Three 250-byte strings: the UDP reply exceeds 512 bytes, so it comes back truncated. */
  bigTxt: { name: "big.opskit.test", text: ["x", "y", "z"].map((c) => c.repeat(250)).join("") },
  srv: { name: "_http._tcp.opskit.test", target: "b.opskit.test", port: 8080, priority: 1, weight: 5 },
  /** Inside the local-only zone and defined nowhere: NXDOMAIN. */
  missing: { name: "missing.opskit.test" },
  ttl: 300,
} as const;

export interface TestDnsmasq {
  port: number;
  /** "127.0.0.1:PORT", as server= takes it. */
  server: string;
  /** "[::1]:PORT" when the machine has an IPv6 loopback, else undefined. */
  server6: string | undefined;
  stop(): Promise<void>;
}

function dnsmasqArgs(port: number, ipv6: boolean): string[] {
  const r = dnsRecords;
  return [
    "-k", `--port=${port}`, "--listen-address=127.0.0.1", ...(ipv6 ? ["--listen-address=::1"] : []), "--bind-interfaces",
    // Nothing from this machine's configuration, and no upstream: every answer comes from these flags.
    "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--user=root", "--group=root", "--log-facility=-",
    "--local=/opskit.test/", `--local-ttl=${r.ttl}`,
    `--address=/${r.a.name}/${r.a.ipv4}`,
    `--host-record=${r.dual.name},${r.dual.ipv4},${r.dual.ipv6}`,
    `--host-record=${r.v4only.name},${r.v4only.ipv4}`,
    // dnsmasq answers a CNAME only when it knows the target itself, hence the host-record above.
    `--cname=${r.cname.name},${r.cname.target}`,
    `--mx-host=${r.mx.name},${r.mx.exchange},${r.mx.preference}`,
    `--txt-record=${r.txt.name},${r.txt.text}`,
    `--txt-record=${r.bigTxt.name},${r.bigTxt.text.match(/.{1,250}/g)!.join(",")}`,
    // dnsmasq's order is target, port, priority, weight (not the zone file's).
    `--srv-host=${r.srv.name},${r.srv.target},${r.srv.port},${r.srv.priority},${r.srv.weight}`,
  ];
}

/** Some containers run without ::1; dnsmasq cannot listen there. */
export async function hasIpv6Loopback(): Promise<boolean> {
  const text = await Bun.file("/proc/net/if_inet6").text().catch(() => "");
  return /^0{31}1 .* lo$/m.test(text);
}

/** A port free for both UDP and TCP on 127.0.0.1: dnsmasq serves both on one port. */
async function freeDnsPort(): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const udp = createSocket("udp4");
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    const port = udp.address().port;
    const tcp = createServer();
    const free = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(port, "127.0.0.1", () => resolve(true));
    });
    udp.close();
    if (free) {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      return port;
    }
  }
  throw new Error("no port free for both UDP and TCP on 127.0.0.1");
}

/** One A query for the fixed record; true once dnsmasq answers it. */
async function answers(port: number): Promise<boolean> {
  const socket = createSocket("udp4");
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      socket.on("error", () => resolve(false));
      socket.on("message", (message: Buffer) => {
        clearTimeout(timer);
        resolve((decode(message).answers?.length ?? 0) > 0);
      });
      socket.send(encode({ type: "query", id: 1, questions: [{ type: "A", name: dnsRecords.a.name }] }), port, "127.0.0.1");
    });
  } finally {
    socket.close();
  }
}

/**
 * Debian's dnsmasq in the foreground on loopback and a free port, serving
 * dnsRecords. It is the real server; a missing dnsmasq is an error, never a skip.
 */
export async function startDnsmasq(): Promise<TestDnsmasq> {
  if (!(await Bun.file(DNSMASQ).exists())) throw new Error(`${DNSMASQ} not found: install dnsmasq (sh scripts/setup.sh does, or apt-get install dnsmasq)`);
  const ipv6 = await hasIpv6Loopback();
  const port = await freeDnsPort();
  const child = Bun.spawn([DNSMASQ, ...dnsmasqArgs(port, ipv6)], { stdout: "ignore", stderr: "pipe" });
  const log = new Response(child.stderr).text();
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited with ${child.exitCode}: ${await log}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`dnsmasq did not answer on 127.0.0.1:${port} within 10s: ${await log}`);
    }
    await Bun.sleep(50);
  }
  return {
    port,
    server: `127.0.0.1:${port}`,
    server6: ipv6 ? `[::1]:${port}` : undefined,
    stop: async () => {
      child.kill();
      await child.exited;
    },
  };
}

/** A UDP socket that reads queries and never answers: every DNS probe of it times out. */
export async function startSilentUdpServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const socket: Socket = createSocket("udp4");
  socket.on("message", () => undefined);
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { port: socket.address().port, stop: () => new Promise((resolve) => socket.close(() => resolve())) };
}

/** A loopback UDP port with nothing bound: a datagram to it draws an ICMP port-unreachable. */
export async function closedUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
