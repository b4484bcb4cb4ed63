// Several `opskit serve` replicas on one PostgreSQL journal, each on a fixed
// loopback port it keeps across restarts (Alertmanager's receiver lists
// every replica's URL, so a restarted replica must come back where it was).
import { randomBytes } from "node:crypto";
import { refusedPort } from "./net.ts";
import { startServe, type ServeProcess } from "./serve.ts";

export interface Replica {
  readonly name: string;
  readonly port: number;
  /** http://127.0.0.1:PORT, the same across restarts. */
  readonly url: string;
  /** The running process (the latest start). */
  readonly process: ServeProcess;
  /** Whether the latest start is still running. */
  alive(): boolean;
  /** Starts it again (after kill or stop) on the same port, with the same name and journal. */
  restart(): Promise<void>;
  /** SIGKILL: no drain. */
  kill(): Promise<void>;
  /** SIGTERM and the exit code. */
  stop(): Promise<number>;
  /** Everything every start of it printed, each start under a header line. */
  output(): string;
}

export interface ReplicaSetOptions {
  /** The config directory (opskit.yaml): every replica runs the same config. */
  dir: string;
  /** postgres://… (or a SQLite path, for a single replica). */
  journal: string;
  count: number;
  /** The shared API token, handed to the config as env:OPSKIT_HA_TOKEN (the config must say `server: { token: env:OPSKIT_HA_TOKEN }`). */
  token?: string;
  /** More environment; each replica also gets HA_REPLICA=its name, which a step may pass on with `env: { HA_REPLICA: "{{ env.HA_REPLICA }}" }`. */
  env?: Record<string, string>;
  /** Extra arguments for every replica. */
  args?: string[];
  /** Names; default r1, r2, … */
  names?: string[];
}

export interface ReplicaSet {
  replicas: Replica[];
  token: string;
  /** Every replica's Alertmanager webhook URL. */
  webhookUrls(path?: string): string[];
  /** Kills what is still running. Safe to call twice. */
  stop(): Promise<void>;
}

export const HA_TOKEN_ENV = "OPSKIT_HA_TOKEN";

export async function startReplica(options: Omit<ReplicaSetOptions, "count" | "names"> & { name: string; port?: number; token: string }): Promise<Replica> {
  const port = options.port ?? (await refusedPort());
  const url = `http://127.0.0.1:${port}`;
  let failures = "";
  const starts: ServeProcess[] = [];
  const start = async () => {
    const started = await startServe(options.dir, {
      journal: options.journal,
      token: options.token,
      env: { [HA_TOKEN_ENV]: options.token, HA_REPLICA: options.name, ...options.env },
      args: ["--listen", `127.0.0.1:${port}`, "--replica", options.name, "--advertise-url", url, ...(options.args ?? [])],
    }).catch((error: unknown) => {
      failures += `--- ${options.name}: start ${starts.length + 1} failed ---\n${error instanceof Error ? error.message : String(error)}\n`;
      throw error;
    });
    starts.push(started);
  };
  const current = () => starts.at(-1);
  await start();
  const alive = () => {
    const child = current()?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };
  const replica: Replica = {
    name: options.name,
    port,
    url,
    get process() {
      return current()!;
    },
    alive,
    async restart() {
      if (alive()) throw new Error(`replica ${options.name} is still running`);
      await start();
    },
    async kill() {
      if (alive()) await current()!.kill();
    },
    async stop() {
      const latest = current()!;
      if (!alive()) return latest.child.exitCode ?? -1;
      const code = await Promise.race([latest.stop(), Bun.sleep(40_000).then(() => undefined)]);
      if (code === undefined) await latest.kill();
      return code ?? -1;
    },
    output: () =>
      starts.map((p, i) => `--- ${options.name}: start ${i + 1} (pid ${p.child.pid}, ${p.child.exitCode ?? p.child.signalCode ?? "running"}) ---\n${p.output()}`).join("\n") + (failures ? `\n${failures}` : ""),
  };
  return replica;
}

/** `count` replicas on one journal, started one after the other. */
export async function startReplicas(options: ReplicaSetOptions): Promise<ReplicaSet> {
  const token = options.token ?? randomBytes(32).toString("base64url");
  const replicas: Replica[] = [];
  const stop = async () => {
    await Promise.all(replicas.map((replica) => replica.kill().catch(() => undefined)));
  };
  try {
    for (let i = 0; i < options.count; i++) {
      replicas.push(await startReplica({ ...options, name: options.names?.[i] ?? `r${i + 1}`, token }));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    replicas,
    token,
    webhookUrls: (path = "/api/v1/alerts/alertmanager") => replicas.map((replica) => `${replica.url}${path}`),
    stop: () => (stopping ??= stop()),
  };
}
