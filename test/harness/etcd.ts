// A real etcd cluster on loopback for the etcd action's tests: Debian's
// etcd-server, each member on free ports with its own data directory, auto
// compaction off. Members can be stopped and started again. A missing etcd
// binary is an error naming the fix, never a skipped test.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ETCD = "/usr/bin/etcd";
const REQUEST_TIMEOUT_MS = 5_000;
const READY_TIMEOUT_MS = 30_000;

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
}

export interface EtcdCluster {
  dir: string;
  members: EtcdMember[];
  endpoints: string[];
  /** POSTs a JSON body to the gateway path on one member and returns the status and parsed answer. */
  call(endpoint: string, path: string, body?: unknown, timeoutMs?: number): Promise<{ status: number; body: any }>;
  /** The member's /v3/maintenance/status, throwing unless it answers 200. */
  status(endpoint: string): Promise<any>;
  /** The name of the member every running member calls leader (waits through an election). */
  leaderName(): Promise<string>;
  memberOf(id: string): EtcdMember | undefined;
  stopMember(name: string): Promise<void>;
  startMember(name: string): Promise<void>;
  /** Waits until every running member answers and all name the same leader. */
  ready(): Promise<void>;
  /** Turns etcd's auth on with a root user; the harness's own calls authenticate from then on. */
  enableAuth(password: string): Promise<void>;
  stop(): Promise<void>;
}

export const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** `count` distinct free loopback ports, all held open until every one is chosen. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
      });
      servers.push(server);
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** PEM files: the members serve their client URLs over TLS with `server` and require a client certificate signed by `ca`; `client` is the harness's own. */
export interface EtcdTlsFiles {
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
}

export async function startEtcdCluster(options: { size?: number; quotaBytes: number; prefix?: string; tls?: EtcdTlsFiles }): Promise<EtcdCluster> {
  if (!existsSync(ETCD)) throw new Error(`${ETCD} is missing: install Debian's etcd-server (sh scripts/setup.sh does)`);
  const size = options.size ?? 3;
  const dir = mkdtempSync(join(tmpdir(), "opskit-etcd-"));
  const ports = await freePorts(size * 2);
  const members: EtcdMember[] = Array.from({ length: size }, (_, i) => ({
    name: `${options.prefix ?? "etcd"}-${i + 1}`,
    clientUrl: `${options.tls ? "https" : "http"}://127.0.0.1:${ports[i * 2]}`,
    peerUrl: `http://127.0.0.1:${ports[i * 2 + 1]}`,
    dataDir: join(dir, `member-${i + 1}`),
    logFile: join(dir, `member-${i + 1}.log`),
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  const processes = new Map<string, ReturnType<typeof Bun.spawn>>();
  const idToMember = new Map<string, EtcdMember>();

  const spawn = (member: EtcdMember) => {
    const child = Bun.spawn(
      [
        ETCD,
        `--name=${member.name}`,
        `--data-dir=${member.dataDir}`,
        `--listen-client-urls=${member.clientUrl}`,
        `--advertise-client-urls=${member.clientUrl}`,
        `--listen-peer-urls=${member.peerUrl}`,
        `--initial-advertise-peer-urls=${member.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        `--initial-cluster-token=${dir}`,
        `--quota-backend-bytes=${options.quotaBytes}`,
        "--auto-compaction-retention=0",
        "--logger=zap",
        "--log-outputs=stderr",
        "--log-level=warn",
        ...(options.tls ? [`--cert-file=${options.tls.server.cert}`, `--key-file=${options.tls.server.key}`, `--trusted-ca-file=${options.tls.ca}`, "--client-cert-auth=true"] : []),
      ],
      { stdin: "ignore", stdout: "ignore", stderr: Bun.file(member.logFile) },
    );
    processes.set(member.name, child);
  };

  const tls = options.tls && { ca: readFileSync(options.tls.ca, "utf8"), cert: readFileSync(options.tls.client.cert, "utf8"), key: readFileSync(options.tls.client.key, "utf8") };
  let token: string | undefined;
  const call = async (endpoint: string, path: string, body: unknown = {}, timeoutMs = REQUEST_TIMEOUT_MS) => {
    const response = await fetch(`${endpoint}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json", ...(token ? { authorization: token } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
      ...(tls ? { tls } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // kept as text
    }
    return { status: response.status, body: parsed as any };
  };
  const status = async (endpoint: string) => {
    const answer = await call(endpoint, "/v3/maintenance/status");
    if (answer.status !== 200) throw new Error(`${endpoint} status ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const running = () => members.filter((m) => processes.has(m.name));

  const cluster: EtcdCluster = {
    dir,
    members,
    endpoints: members.map((m) => m.clientUrl),
    call,
    status,
    memberOf: (id) => idToMember.get(id),
    async ready() {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      let last = "";
      for (;;) {
        try {
          const statuses = await Promise.all(running().map(async (m) => ({ m, s: await status(m.clientUrl) })));
          for (const { m, s } of statuses) idToMember.set(s.header.member_id, m);
          const leaders = new Set(statuses.map(({ s }) => s.leader ?? "0"));
          if (leaders.size === 1 && !leaders.has("0")) return;
          last = `leaders: ${[...leaders].join(", ")}`;
        } catch (error) {
          last = (error as Error).message;
        }
        if (Date.now() > deadline) {
          const logs = members.map((m) => `${m.name}:\n${existsSync(m.logFile) ? readFileSync(m.logFile, "utf8").slice(-2000) : ""}`).join("\n");
          throw new Error(`etcd cluster not ready after ${READY_TIMEOUT_MS} ms (${last})\n${logs}`);
        }
        await Bun.sleep(100);
      }
    },
    async leaderName() {
      await cluster.ready();
      const s = await status(running()[0]!.clientUrl);
      return idToMember.get(s.leader)!.name;
    },
    async stopMember(name) {
      const child = processes.get(name);
      if (!child) return;
      processes.delete(name);
      child.kill("SIGTERM");
      const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
      if (!exited) {
        child.kill("SIGKILL");
        await child.exited;
      }
    },
    async startMember(name) {
      const member = members.find((m) => m.name === name)!;
      spawn(member);
      await cluster.ready();
    },
    async enableAuth(password) {
      const endpoint = running()[0]!.clientUrl;
      for (const [path, body] of [
        ["/v3/auth/role/add", { name: "root" }],
        ["/v3/auth/user/add", { name: "root", password }],
        ["/v3/auth/user/grant", { user: "root", role: "root" }],
        ["/v3/auth/enable", {}],
      ] as const) {
        const answer = await call(endpoint, path, body);
        if (answer.status !== 200) throw new Error(`${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      const answer = await call(endpoint, "/v3/auth/authenticate", { name: "root", password });
      if (answer.status !== 200) throw new Error(`authenticate: ${answer.status} ${JSON.stringify(answer.body)}`);
      token = answer.body.token;
    },
    async stop() {
      await Promise.all(running().map((m) => cluster.stopMember(m.name)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const member of members) spawn(member);
  try {
    await cluster.ready();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
