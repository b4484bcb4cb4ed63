import { ExitCode, OpsError, configError } from "../../errors.ts";
import { registerSecret } from "../../observe/index.ts";
import type { ClusterEntry, ExecConfig, Material, UserEntry } from "./kubeconfig.ts";

/*
 * What a request authenticates with, from a kubeconfig user: a client
 * certificate, a bearer token (inline or tokenFile), basic auth, or an exec
 * credential plugin (client.authentication.k8s.io ExecCredential: EKS's
 * `aws eks get-token`, gke-gcloud-auth-plugin, kubelogin). A plugin's answer
 * is kept in memory until its expirationTimestamp (for the life of the
 * process when it gives none) and asked for again when the server answers
 * 401 to it. Every secret is registered for masking as it is read.
 */

export interface Credentials {
  token?: string;
  /** "user:password", for basic auth. */
  basic?: string;
  cert?: string;
  key?: string;
}

export interface CallOptions {
  timeoutMs: number;
  signal: AbortSignal;
}

/** How a client gets its credentials, and gets new ones after a 401. */
export interface CredentialSource {
  get(options: CallOptions): Promise<Credentials>;
  /** Fresh credentials after `used` was refused, or undefined when none could differ (a static token or certificate). */
  refresh(used: Credentials, options: CallOptions): Promise<Credentials | undefined>;
}

/** A certificate, key or token file as its text; an unreadable file names the kubeconfig key that names it. */
export async function readMaterial(material: Material, what: string): Promise<string> {
  if ("data" in material) return material.data;
  try {
    return await Bun.file(material.file).text();
  } catch (error) {
    throw configError("E_KUBECONFIG_FILE", `${material.where}: cannot read the ${what} ${material.file}: ${(error as Error).message}`, "fix the path (a relative path is read from the kubeconfig's directory), or give the content inline as base64 in the -data key");
  }
}

/** The credentials a user entry describes. */
export async function credentialSource(user: UserEntry, cluster: ClusterEntry, clusterCa: string | undefined): Promise<CredentialSource> {
  const fixed: Credentials = {};
  if (user.clientCertificate && user.clientKey) {
    fixed.cert = await readMaterial(user.clientCertificate, "client certificate");
    fixed.key = await readMaterial(user.clientKey, "client key");
    registerSecret(fixed.key.trim());
  }
  if (user.basic) fixed.basic = `${user.basic.username}:${user.basic.password}`;
  if (user.token) {
    fixed.token = user.token;
    registerSecret(user.token);
  }
  if (user.exec) {
    const exec = user.exec;
    const info = execInfo(exec, cluster, clusterCa);
    const key = JSON.stringify([exec.command, exec.args, exec.env, exec.apiVersion, info]);
    return {
      get: async (options) => ({ ...fixed, ...(await execCredential(key, exec, user.name, info, options, false)) }),
      refresh: async (used, options) => {
        // Another request may have refreshed it already: only a refused answer is thrown away.
        const cached = execCache.get(key);
        if (cached && !sameCredentials(cached.credentials, used)) return { ...fixed, ...cached.credentials };
        return { ...fixed, ...(await execCredential(key, exec, user.name, info, options, true)) };
      },
    };
  }
  if (!user.token && user.tokenFile) {
    const tokenFile = user.tokenFile;
    // client-go reads tokenFile again as it rotates (projected service account tokens): read at start and after a 401.
    const read = async () => {
      const token = (await readMaterial(tokenFile, "token file")).trim();
      registerSecret(token);
      return { ...fixed, token };
    };
    let current = await read();
    return {
      get: async () => current,
      refresh: async (used) => {
        const fresh = await read();
        current = fresh;
        return fresh.token === used.token ? undefined : fresh;
      },
    };
  }
  return { get: async () => fixed, refresh: async () => undefined };
}

const sameCredentials = (a: Credentials, b: Credentials) => a.token === b.token && a.cert === b.cert && a.key === b.key;

/** KUBERNETES_EXEC_INFO as client-go sets it: never interactive; the cluster when the plugin asks for it. */
function execInfo(exec: ExecConfig, cluster: ClusterEntry, clusterCa: string | undefined): Record<string, unknown> {
  const spec: Record<string, unknown> = { interactive: false };
  if (exec.provideClusterInfo) {
    spec.cluster = {
      server: cluster.server,
      ...(cluster.tlsServerName ? { "tls-server-name": cluster.tlsServerName } : {}),
      ...(cluster.insecureSkipTlsVerify ? { "insecure-skip-tls-verify": true } : {}),
      ...(clusterCa ? { "certificate-authority-data": Buffer.from(clusterCa).toString("base64") } : {}),
      ...(cluster.extensions["client.authentication.k8s.io/exec"] !== undefined ? { config: cluster.extensions["client.authentication.k8s.io/exec"] } : {}),
    };
  }
  return { apiVersion: exec.apiVersion, kind: "ExecCredential", spec };
}

interface CachedCredential {
  credentials: Credentials;
  /** ms since the epoch; none: until the process ends. */
  expiresAt?: number;
}

/** Plugin answers by plugin (command, args, env, version and cluster): in memory only, never written anywhere. */
const execCache = new Map<string, CachedCredential>();
/** One plugin run at a time per key: concurrent requests share it. */
const running = new Map<string, Promise<Credentials>>();

/** Forgets every cached plugin answer (tests). */
export function clearExecCache(): void {
  execCache.clear();
}

async function execCredential(key: string, exec: ExecConfig, user: string, info: Record<string, unknown>, options: CallOptions, refresh: boolean): Promise<Credentials> {
  const cached = execCache.get(key);
  if (!refresh && cached && (cached.expiresAt === undefined || Date.now() < cached.expiresAt)) return cached.credentials;
  let pending = running.get(key);
  if (!pending) {
    pending = runPlugin(exec, user, info, options).then((answer) => {
      execCache.set(key, answer);
      return answer.credentials;
    });
    running.set(key, pending);
    pending.then(
      () => running.delete(key),
      () => running.delete(key),
    );
  }
  return pending;
}

const MAX_PLUGIN_OUTPUT = 1 << 20;
/** A plugin that logs in through a browser can take a while; one that hangs must not hold a run for longer than this. */
const PLUGIN_TIMEOUT_MS = 60_000;

function pluginError(exec: ExecConfig, user: string, message: string, hint: string): OpsError {
  return new OpsError({ code: "E_KUBE_EXEC", message: `${exec.where}: credential plugin ${exec.command} (user "${user}") ${message}`, hint, exitCode: ExitCode.transport });
}

/** Runs the plugin and reads its ExecCredential. */
async function runPlugin(exec: ExecConfig, user: string, info: Record<string, unknown>, options: CallOptions): Promise<CachedCredential> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const { name, value } of exec.env) env[name] = value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify(info);
  let child: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">>;
  try {
    child = Bun.spawn([exec.command, ...exec.args], {
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: Math.min(options.timeoutMs, PLUGIN_TIMEOUT_MS),
      signal: options.signal,
    });
  } catch (error) {
    const missing = (error as { code?: string }).code === "ENOENT" || /not found|no such file|ENOENT/i.test((error as Error).message);
    if (missing) {
      throw pluginError(exec, user, "was not found", exec.installHint ? exec.installHint.trim() : "install the plugin your cluster's provider documents, or fix users[].user.exec.command (a bare name is looked up on PATH, a path is read from the kubeconfig's directory)");
    }
    throw pluginError(exec, user, `could not start: ${(error as Error).message}`, "check the command and its permissions");
  }
  const [stdout, stderr, code] = await Promise.all([limitedText(child.stdout), limitedText(child.stderr), child.exited]);
  if (options.signal.aborted) throw new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted });
  if (child.signalCode) throw pluginError(exec, user, `was stopped (${child.signalCode}) before it answered${stderr.trim() ? `: ${tail(stderr)}` : ""}`, "a plugin waiting for a login (a browser, a device code) cannot finish here: log in once interactively so it caches a token");
  if (code !== 0) throw pluginError(exec, user, `exited with ${code}${stderr.trim() ? `: ${tail(stderr)}` : ""}`, exec.installHint?.trim() ?? "run the plugin by hand to see why; its login may have expired");
  return readExecCredential(stdout, exec, user);
}

async function limitedText(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size < MAX_PLUGIN_OUTPUT) chunks.push(chunk.subarray(0, MAX_PLUGIN_OUTPUT - size));
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}

const tail = (text: string) => {
  const trimmed = text.trim();
  return trimmed.length > 500 ? `…${trimmed.slice(-500)}` : trimmed;
};

/** The plugin's stdout: an ExecCredential of the version it was asked for, with a token or a certificate and key. */
export function readExecCredential(stdout: string, exec: Pick<ExecConfig, "apiVersion" | "command" | "where">, user: string): CachedCredential {
  const bad = (why: string) => pluginError(exec as ExecConfig, user, `answered ${why}`, `a plugin prints an ExecCredential (apiVersion ${exec.apiVersion}) with status.token, or status.clientCertificateData and clientKeyData`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw bad("with something that is not JSON");
  }
  const credential = parsed as { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
  if (credential?.kind !== "ExecCredential") throw bad("without kind: ExecCredential");
  if (credential.apiVersion !== exec.apiVersion) throw bad(`with apiVersion ${JSON.stringify(credential.apiVersion)} to a request for ${exec.apiVersion}`);
  const status = credential.status;
  if (!status || typeof status !== "object") throw bad("without a status");
  const text = (name: string) => (typeof status[name] === "string" && status[name] !== "" ? (status[name] as string) : undefined);
  const token = text("token");
  const cert = text("clientCertificateData");
  const key = text("clientKeyData");
  if (Boolean(cert) !== Boolean(key)) throw bad("with a client certificate and no key (or a key and no certificate)");
  if (!token && !cert) throw bad("with neither a token nor a client certificate");
  let expiresAt: number | undefined;
  const expiry = text("expirationTimestamp");
  if (expiry) {
    expiresAt = Date.parse(expiry);
    if (Number.isNaN(expiresAt)) throw bad(`with expirationTimestamp ${JSON.stringify(expiry)}, which is not an RFC 3339 time`);
  }
  if (token) registerSecret(token);
  if (key) registerSecret(key.trim());
  return { credentials: { ...(token ? { token } : {}), ...(cert ? { cert, key } : {}) }, ...(expiresAt !== undefined ? { expiresAt } : {}) };
}
