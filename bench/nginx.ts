// One nginx (Debian's package, installed by scripts/setup.sh bench) serving
// the throughput benchmark's endpoints on several loopback ports, from a
// config file written here: GET /ok/ANYTHING answers 200 "ok", so every
// target can be a distinct URL. Its own service is never used; this process
// runs in the foreground (daemon off) with its files under bench/out/nginx.
// stub_status on a control port counts the requests served.
import { existsSync, mkdirSync } from "node:fs";
import { asService, cpuSecondsOf, descendantsOf, freePort, outDir, track, waitUntil, type Service } from "./process.ts";

export const nginxBin = existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";

export interface Nginx extends Service {
  readonly ports: number[];
  /** Requests served since the last reset(), not counting the status requests. */
  served(): Promise<number>;
  reset(): Promise<void>;
  /** Waits until only the status request is connected and nothing more is served (stragglers of a previous run), at most 10 s. */
  settle(): Promise<void>;
}

function config(dir: string, ports: number[], control: number): string {
  return `daemon off;
master_process on;
# Debian's default: one worker per core.
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 16384;
}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
${ports.map((port) => `    listen 127.0.0.1:${port} backlog=4096;`).join("\n")}
    location /ok/ {
      default_type text/plain;
      return 200 "ok\\n";
    }
    location / {
      return 404;
    }
  }
  server {
    listen 127.0.0.1:${control};
    location = /status {
      stub_status;
    }
  }
}
`;
}

/** Starts nginx on `portCount` loopback ports and waits until it answers. */
export async function startNginx(portCount: number): Promise<Nginx> {
  const dir = `${outDir}/nginx`;
  mkdirSync(dir, { recursive: true });
  const ports = Array.from({ length: portCount }, () => freePort());
  const control = freePort();
  await Bun.write(`${dir}/nginx.conf`, config(dir, ports, control));
  const log = Bun.file(`${dir}/stderr.log`);
  const child = track(Bun.spawn([nginxBin, "-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`], { stdin: "ignore", stdout: log, stderr: log }));

  // stub_status's line of numbers is "accepts handled requests"; the status requests count themselves.
  let statusRequests = 0;
  const status = async () => {
    const text = await (await fetch(`http://127.0.0.1:${control}/status`)).text();
    statusRequests++;
    const [, active] = /Active connections:\s*(\d+)/.exec(text) ?? [];
    const [, requests] = /\n\s*\d+\s+\d+\s+(\d+)\s*\n/.exec(text) ?? [];
    if (active === undefined || requests === undefined) throw new Error(`nginx stub_status unreadable: ${text}`);
    return { active: Number(active), requests: Number(requests) - statusRequests };
  };
  await waitUntil("nginx", async () => (await status()).requests >= 0);
  // The workers outlive a master killed with SIGKILL (as a dying runner kills its children): kill them too.
  const workers = descendantsOf(child.pid).slice(1);
  process.on("exit", () => {
    for (const pid of workers) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  });
  let base = (await status()).requests;
  return {
    ...asService(child, () => child.kill("SIGTERM")),
    // The master and its workers.
    cpuSeconds: () => descendantsOf(child.pid).reduce((sum, pid) => sum + cpuSecondsOf(pid), 0),
    ports,
    served: async () => (await status()).requests - base,
    reset: async () => void (base = (await status()).requests),
    async settle() {
      let last = await status();
      const deadline = performance.now() + 10_000;
      while (performance.now() < deadline) {
        await Bun.sleep(200);
        const now = await status();
        if (now.requests === last.requests && now.active <= 1) return;
        last = now;
      }
    },
  };
}
