// The two services the benchmarks start: the local endpoints both sides probe
// (bench/target-server.ts) and the anchor, prometheus-blackbox-exporter, with
// the wrk driver that feeds it /probe requests.
import { asService, bun, freePort, outDir, root, runToEnd, track, waitUntil, type Finished, type Service } from "./process.ts";

export interface ServerStats {
  served: number;
  inFlight: number;
  maxInFlight: number;
}

export interface TargetServer extends Service {
  readonly ports: number[];
  /** GET /stats of the control port. */
  stats(): Promise<ServerStats>;
  /** Zeroes the served count and the in-flight high-water mark. */
  reset(): Promise<void>;
  /** Waits until no request is answered for 200 ms (stragglers of a previous run), at most 10 s. */
  settle(): Promise<void>;
}

/** Starts bench/target-server.ts on `ports` loopback ports (GET /slow answers after delayMs) and waits for it to listen. */
export async function startTargetServer(ports: number, delayMs = 0): Promise<TargetServer> {
  const child = track(
    Bun.spawn([bun, "bench/target-server.ts", String(ports), String(delayMs)], {
      cwd: root,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    }),
  );
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("target server exited before listening");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const ready = JSON.parse(text.slice(0, text.indexOf("\n"))) as { ports: number[]; control: number };
  const control = `http://127.0.0.1:${ready.control}`;
  const stats = async () => (await fetch(`${control}/stats`)).json() as Promise<ServerStats>;
  return {
    ...asService(child, () => child.stdin.end()),
    ports: ready.ports,
    stats,
    reset: async () => void (await fetch(`${control}/reset`)).arrayBuffer(),
    async settle() {
      let last = await stats();
      const deadline = performance.now() + 10_000;
      while (performance.now() < deadline) {
        await Bun.sleep(200);
        const now = await stats();
        if (now.served === last.served && now.inFlight === 0) return;
        last = now;
      }
    },
  };
}

// The module a Prometheus user would write for this: a plain 2xx check over
// IPv4, with the same 30 s timeout opskit is given.
const blackboxConfig = `modules:
  http_2xx:
    prober: http
    timeout: 30s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
`;

export interface Blackbox extends Service {
  readonly port: number;
  /** Connections its HTTP prober has established so far (one per probe: it disables keep-alive). */
  connectionsEstablished(): Promise<number>;
}

export async function startBlackbox(name: string): Promise<Blackbox> {
  const config = `${outDir}/blackbox.yml`;
  await Bun.write(config, blackboxConfig);
  const port = freePort();
  const log = Bun.file(`${outDir}/blackbox-${name}.log`);
  const child = track(
    Bun.spawn(["prometheus-blackbox-exporter", `--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`], { stdin: "ignore", stdout: log, stderr: log }),
  );
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  await waitUntil("blackbox_exporter", async () => (await metrics()).includes("blackbox_exporter_build_info"));
  return {
    ...asService(child, () => child.kill("SIGTERM")),
    port,
    async connectionsEstablished() {
      const line = /^net_conntrack_dialer_conn_established_total\{dialer_name="http_probe"\} (\S+)$/m.exec(await metrics());
      return line ? Number(line[1]) : 0;
    },
  };
}

export function probePath(target: string): string {
  return `/probe?target=${encodeURIComponent(target)}&module=http_2xx`;
}

/** What bench/blackbox-driver.lua prints. */
export interface DriverReport {
  responses: number;
  /** Responses that were a 200 reporting probe_success 1. */
  succeeded: number;
  sent: number;
  /** From the first request sent to the limit-th response. */
  seconds: number;
  complete: boolean;
  firstFailure: string;
}

/**
 * Sends `limit` /probe requests for `targets` (cycled) to blackbox with wrk at
 * `connections` keep-alive connections, checking every response. Many
 * targets travel to wrk in a file: 20,000 paths would pass the kernel's
 * limit on a command line.
 */
export async function driveBlackbox(
  blackbox: Blackbox,
  options: { targets: string[]; limit: number; connections: number; boundSeconds: number },
): Promise<{ report: DriverReport; run: Finished }> {
  let paths = options.targets.map(probePath);
  if (paths.length > 64) {
    const file = `${outDir}/blackbox-paths.txt`;
    await Bun.write(file, `${paths.join("\n")}\n`);
    paths = [`@${file}`];
  }
  const cmd = [
    "wrk", "-t1", `-c${options.connections}`, `-d${options.boundSeconds}s`, "--timeout", "30s",
    "-s", "bench/blackbox-driver.lua", `http://127.0.0.1:${blackbox.port}`,
    "--", String(options.limit), ...paths,
  ];
  const run = await runToEnd(cmd, (options.boundSeconds + 15) * 1000);
  const line = run.stdout.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`wrk printed no report (exit ${run.exitCode}): ${run.stdout}${run.stderr}`);
  return { report: JSON.parse(line) as DriverReport, run };
}
