/**
 * Real kubectl against the test API server (test/harness/kube-apiserver.ts):
 * which binaries the tests run, a runner with a fresh HOME and discovery
 * cache per run, and what kubectl sends for an operation, for tests that
 * compare opskit's requests with kubectl's.
 */
import { existsSync, realpathSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { KubeApiServer, RecordedRequest } from "./kube-apiserver.ts";

export interface KubectlBinary {
  /** "kubectl 1.32" */
  label: string;
  path: string;
  /** The client's gitVersion, e.g. "v1.32.4". */
  version: string;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Debian's kubernetes-client, unpacked (not installed) by scripts/setup.sh. */
export const DEBIAN_KUBECTL = join(homedir(), ".cache/opskit-test/kubectl-debian/usr/bin/kubectl");
const MACHINE_KUBECTL = "/usr/bin/kubectl";

function clientVersion(path: string): string | undefined {
  const run = Bun.spawnSync([path, "version", "--client", "-o", "json"], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() } });
  if (!run.success) return undefined;
  try {
    return JSON.parse(run.stdout.toString()).clientVersion?.gitVersion;
  } catch {
    return undefined;
  }
}

/**
 * The machine's kubectl is Google Cloud SDK's dispatcher, which picks a
 * kubectl.1.NN beside it by the server's version; the tests run the 1.32
 * client itself so that the version under test does not depend on what the
 * server reports.
 */
function machineKubectl(): string | undefined {
  if (!existsSync(MACHINE_KUBECTL)) return undefined;
  const pinned = join(dirname(realpathSync(MACHINE_KUBECTL)), "kubectl.1.32");
  return existsSync(pinned) ? pinned : MACHINE_KUBECTL;
}

/** The kubectl binaries the tests hold the API server to, and what is missing (a failure in CI). */
export function kubectlBinaries(): { binaries: KubectlBinary[]; missing: string[] } {
  const binaries: KubectlBinary[] = [];
  const missing: string[] = [];
  const candidates: [string, string | undefined, string][] = [
    ["machine", machineKubectl(), `${MACHINE_KUBECTL} (kubectl 1.32)`],
    ["debian", existsSync(DEBIAN_KUBECTL) ? DEBIAN_KUBECTL : undefined, `${DEBIAN_KUBECTL} (Debian's kubernetes-client 1.20: sh scripts/setup.sh unpacks it)`],
  ];
  for (const [, path, what] of candidates) {
    const version = path ? clientVersion(path) : undefined;
    if (!path || !version) {
      missing.push(what);
      continue;
    }
    const minor = version.match(/^v(\d+\.\d+)/)?.[1] ?? version;
    binaries.push({ label: `kubectl ${minor}`, path, version });
  }
  return { binaries, missing };
}

/** Runs kubectl with the given kubeconfig and a HOME and discovery cache of its own (removed afterwards). */
export async function runKubectl(binary: string, args: string[], options: { kubeconfig: string; stdin?: string; timeoutMs?: number }): Promise<KubectlResult> {
  const home = await mkdtemp(join(tmpdir(), "opskit-kubectl-"));
  try {
    const child = Bun.spawn([binary, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, KUBECACHEDIR: join(home, "cache"), KUBECONFIG: options.kubeconfig },
      stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 90_000);
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    clearTimeout(timer);
    return { code, stdout, stderr };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** Discovery and OpenAPI requests, which every kubectl run makes before the operation itself. */
export function isDiscoveryRequest(r: Pick<RecordedRequest, "method" | "path">): boolean {
  if (r.method !== "GET") return false;
  const p = r.path.replace(/\/$/, "");
  return p === "/version" || p === "/api" || p === "/api/v1" || p === "/apis" || /^\/apis\/[^/]+(\/[^/]+)?$/.test(p) || p.startsWith("/openapi/") || p === "/openapi";
}

/**
 * What kubectl sends for an operation: runs `kubectl <args>` (it must
 * succeed) and returns the requests it made other than discovery, in order.
 * The default binary is the machine's kubectl (1.32).
 */
export async function kubectlRequests(
  server: KubeApiServer,
  args: string[],
  options: { binary?: string; auth?: "cert" | "token"; namespace?: string; stdin?: string } = {},
): Promise<RecordedRequest[]> {
  const binary = options.binary ?? machineKubectl();
  if (!binary) throw new Error(`kubectl not found at ${MACHINE_KUBECTL}`);
  const dir = await mkdtemp(join(tmpdir(), "opskit-kubectl-config-"));
  try {
    const kubeconfig = await server.kubeconfig(dir, { auth: options.auth ?? "cert", ...(options.namespace ? { namespace: options.namespace } : {}) });
    const from = server.requests.length;
    const result = await runKubectl(binary, args, { kubeconfig, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
    return server.requests.slice(from).filter((r) => !isDiscoveryRequest(r) && (r.userAgent ?? "").startsWith("kubectl"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
