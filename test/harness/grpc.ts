import { repoRoot } from "./cli.ts";

const SERVER = `${repoRoot}test/harness/grpc-health-server.mjs`;
const PACKAGES = ["@grpc/grpc-js", "grpc-health-check"];

export interface TestGrpcServer {
  port: number;
  stop(): Promise<void>;
}

export interface GrpcServerOptions {
  /** false: a gRPC server with no health service, so Check is UNIMPLEMENTED. */
  health?: boolean;
  /** Serve TLS with this certificate instead of plaintext HTTP/2. */
  tls?: { cert: string; key: string };
}

/**
 * The reference gRPC server (@grpc/grpc-js with grpc-health-check) under
 * Node, on 127.0.0.1 and a free port; see grpc-health-server.mjs for the
 * statuses it serves. A missing node or package is an error, never a skip.
 */
export async function startGrpcHealthServer(options: GrpcServerOptions = {}): Promise<TestGrpcServer> {
  const node = Bun.which("node");
  if (!node) throw new Error("node not found on PATH: the gRPC test server runs under Node.js 20+ (install nodejs)");
  for (const name of PACKAGES) {
    try {
      Bun.resolveSync(name, repoRoot);
    } catch {
      throw new Error(`${name} is not installed: run npm ci (sh scripts/setup.sh does) to get the gRPC test server's devDependencies`);
    }
  }
  const args = [SERVER];
  if (options.health === false) args.push("--no-health");
  if (options.tls) args.push("--tls", options.tls.cert, options.tls.key);
  // The server exits when its stdin closes, so it cannot outlive a crashed test run.
  const child = Bun.spawn([node, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const stop = async () => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill(), 2_000);
    await child.exited;
    clearTimeout(timer);
  };
  try {
    return { port: await readPort(child.stdout, child.exited), stop };
  } catch (error) {
    child.kill();
    const stderr = await new Response(child.stderr).text();
    throw new Error(`grpc-health-server did not start: ${(error as Error).message}${stderr ? `\n${stderr}` : ""}`);
  }
}

/** Reads the server's "port N" line, failing if it exits or stays silent for 15 s. */
async function readPort(stdout: ReadableStream<Uint8Array>, exited: Promise<number>): Promise<number> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 15_000)));
  const exit = exited.then((code) => `exit ${code}`);
  let text = "";
  try {
    while (true) {
      const next = await Promise.race([reader.read(), deadline, exit]);
      if (next === "timeout") throw new Error("no port announced within 15 s");
      if (typeof next === "string") throw new Error(`server exited (${next})`);
      if (next.done) throw new Error("server closed stdout before announcing its port");
      text += decoder.decode(next.value, { stream: true });
      const match = /^port (\d+)$/m.exec(text);
      if (match) return Number(match[1]);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}
