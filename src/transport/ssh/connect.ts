import type { Duplex } from "node:stream";
import type { Client, ConnectConfig, ServerHostKeyAlgorithm } from "ssh2";
import type { OpsError } from "../../errors.ts";
import { planAuth, type AuthPlan, type IdentityCache } from "./auth.ts";
import { authError, connectError, connectTimeoutError, interruptedError } from "./errors.ts";
import type { HostKeyVerdict, KnownHosts } from "./hostkeys.ts";
import type { Ssh2 } from "./ssh2.ts";
import { fingerprintOf, keyTypeOf, knownHostName } from "./hostkeys.ts";
import type { SshEndpoint, SshPoolOptions, SshTrace } from "./types.ts";

export interface DialContext {
  ssh2: Ssh2;
  options: SshPoolOptions;
  /** The known_hosts files an endpoint is checked against, read once per set. */
  knownHostsFor(endpoint: SshEndpoint): Promise<KnownHosts>;
  identities: IdentityCache;
}

const socketErrors: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed (temporary DNS failure)",
  EADDRNOTAVAIL: "address not available",
};

type Ssh2Error = Error & { level?: string; code?: string | number };

/** What the host key check decided during the key exchange. */
interface HostKeyOutcome {
  learned: boolean;
  failure: OpsError | undefined;
}

/** How long a connection took to open, for -v: TCP and the key exchange, then authentication. */
export interface ConnectTimings {
  connectMs: number;
  authMs: number;
}

/** Writes -v lines for one endpoint at the levels the trace asks for; nothing without a trace. */
export function traceFor(endpoint: SshEndpoint, trace: SshTrace | undefined): (level: number, text: string) => void {
  if (!trace) return () => undefined;
  return (level, text) => {
    if (trace.level >= level) trace.line(endpoint, level, text);
  };
}

const hop = (endpoint: SshEndpoint) => `${endpoint.user}@${endpoint.host}:${endpoint.port}`;

/**
 * Opens one authenticated ssh2 Client to `endpoint`, over `sock` when a
 * ProxyJump hop supplies it. The connect timer covers TCP and the key
 * exchange (host key check included); the auth timer starts when the key
 * exchange ends. Any failure destroys the client and `sock`.
 */
export async function openClient(
  endpoint: SshEndpoint,
  context: DialContext,
  sock: Duplex | undefined,
  signal: AbortSignal,
): Promise<{ client: Client; learnedHostKey: boolean; knownHosts: KnownHosts; timings: ConnectTimings }> {
  const say = traceFor(endpoint, context.options.trace);
  const startedAt = performance.now();
  say(1, `connecting to ${hop(endpoint)}${endpoint.proxyJump ? ` through ProxyJump ${hop(endpoint.proxyJump)}` : ""}${endpoint.source ? ` (host from ${endpoint.source})` : ""}`);
  let auth: AuthPlan;
  let knownHosts: KnownHosts;
  try {
    if (signal.aborted) throw interruptedError(signal);
    knownHosts = await context.knownHostsFor(endpoint);
    say(2, `known_hosts: ${knownHosts.files.join(", ")}, looked up as ${knownHostName(endpoint.host, endpoint.port)} (hostKeyChecking ${context.options.hostKeyChecking})`);
    auth = await planAuth(endpoint, context.identities, context.options.agentSocket ?? process.env.SSH_AUTH_SOCK, (label, refused) => {
      if (refused) say(1, `auth: ${refused.label} refused; the server accepts ${refused.methodsLeft.join(", ") || "nothing more"}`);
      if (label) say(1, `auth: trying ${label}`);
    });
    say(2, `auth: identity files ${endpoint.identityFiles.join(", ") || "none"}; ssh-agent ${endpoint.useAgent ? (context.options.agentSocket ?? process.env.SSH_AUTH_SOCK ?? "not running") : "not used"}`);
  } catch (error) {
    sock?.destroy();
    throw error;
  }
  const { options } = context;
  const client = new context.ssh2.Client();
  const hostKey: HostKeyOutcome = { learned: false, failure: undefined };
  let handshakeAt = startedAt;
  client.once("connect", () => {
    const address = (client as unknown as { _sock?: { remoteAddress?: string; remotePort?: number } })._sock;
    const at = address?.remoteAddress ? `${address.remoteAddress} port ${address.remotePort}` : `${endpoint.host} port ${endpoint.port} through the jump host`;
    say(1, `connected to ${at} in ${elapsed(startedAt)} ms`);
  });
  client.once("handshake", (negotiated: { kex?: string; serverHostKey?: string; cs?: { cipher?: string; mac?: string } }) => {
    handshakeAt = performance.now();
    say(2, `key exchange ${negotiated.kex}, host key algorithm ${negotiated.serverHostKey}, cipher ${negotiated.cs?.cipher}${negotiated.cs?.mac ? `, mac ${negotiated.cs.mac}` : ""}`);
  });

  return new Promise((resolve, reject) => {
    let phase: "connect" | "auth" = "connect";
    let settled = false;
    let timer = setTimeout(() => finish(connectTimeoutError(endpoint, "connect", options.connectTimeoutMs)), options.connectTimeoutMs);
    const onAbort = () => finish(interruptedError(signal));
    signal.addEventListener("abort", onAbort, { once: true });

    function finish(error?: OpsError) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      client.removeListener("handshake", onHandshake).removeListener("ready", onReady).removeListener("close", onClose);
      if (error) {
        say(1, `connection failed after ${elapsed(startedAt)} ms: ${error.message}`);
        client.destroy();
        sock?.destroy();
        reject(error);
      } else {
        const readyAt = performance.now();
        const timings = { connectMs: Math.round(handshakeAt - startedAt), authMs: Math.round(readyAt - handshakeAt) };
        say(1, `auth: ${auth.tried.at(-1) ?? "none"} accepted for ${endpoint.user}`);
        say(1, `timings: connect ${timings.connectMs} ms (TCP and key exchange), auth ${timings.authMs} ms`);
        resolve({ client, learnedHostKey: hostKey.learned, knownHosts, timings });
      }
    }
    function onHandshake() {
      phase = "auth";
      clearTimeout(timer);
      timer = setTimeout(() => finish(connectTimeoutError(endpoint, "auth", options.authTimeoutMs)), options.authTimeoutMs);
    }
    function onReady() {
      finish();
    }
    function onClose() {
      finish(hostKey.failure ?? connectError(endpoint, phase === "connect" ? "connection closed during the SSH handshake" : "connection closed during authentication"));
    }
    // ssh2 reports some recoverable problems as errors and carries on: an
    // agent that cannot be reached, a key that cannot sign. They stay in the
    // list of what was tried; only the final failure settles the connect.
    // This listener also stays for the client's life: an 'error' event
    // without one would be thrown.
    client.on("error", (error: Ssh2Error) => {
      if (settled) return;
      if (error.level === "agent" || error.message.startsWith("Error signing data")) {
        auth.tried.push(`(${error.message})`);
        return;
      }
      finish(hostKey.failure ?? classify(endpoint, error, phase, auth.tried, auth.serverMethods()));
    });
    client.on("handshake", onHandshake).on("ready", onReady).on("close", onClose);

    try {
      client.connect(connectConfig(endpoint, context, knownHosts, sock, auth, hostKey));
    } catch (error) {
      finish(connectError(endpoint, error instanceof Error ? error.message : String(error), error));
    }
  });
}

function connectConfig(endpoint: SshEndpoint, context: DialContext, knownHosts: KnownHosts, sock: Duplex | undefined, auth: AuthPlan, hostKey: HostKeyOutcome): ConnectConfig {
  const { options } = context;
  return {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.user,
    ...(sock ? { sock: sock as ConnectConfig["sock"] } : {}),
    // Our own timers say which phase ran out; ssh2's would not.
    readyTimeout: 0,
    keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
    keepaliveCountMax: 3,
    ident: "opskit",
    algorithms: { serverHostKey: knownHosts.preferredAlgorithms(endpoint.host, endpoint.port) as ServerHostKeyAlgorithm[] },
    hostVerifier: (key: Buffer) => {
      const verdict = knownHosts.verify(endpoint, key, options.hostKeyChecking);
      if (verdict.ok) hostKey.learned = verdict.learned;
      else hostKey.failure = verdict.error;
      traceFor(endpoint, options.trace)(1, `host key: ${keyTypeOf(key)} ${fingerprintOf(key)} ${decision(verdict, knownHosts, options.hostKeyChecking)}`);
      return verdict.ok;
    },
    ...(options.trace && options.trace.level >= 3 ? { debug: (text: string) => traceFor(endpoint, options.trace)(3, `ssh2: ${text}`) } : {}),
    authHandler: auth.handler,
  };
}

/** The host-key decision in words: the known_hosts line that matched, or why the key was taken or refused. */
function decision(verdict: HostKeyVerdict, knownHosts: KnownHosts, mode: SshPoolOptions["hostKeyChecking"]): string {
  if (!verdict.ok) return `refused: ${verdict.error.message}`;
  if (verdict.matched) return `matches ${verdict.matched.file}:${verdict.matched.line}`;
  if (verdict.learned) return `is new: accepted and recorded in ${knownHosts.file} (hostKeyChecking accept-new)`;
  return `accepted unchecked (hostKeyChecking ${mode})`;
}

const elapsed = (since: number) => Math.round(performance.now() - since);

function classify(endpoint: SshEndpoint, error: Ssh2Error, phase: "connect" | "auth", tried: string[], serverMethods: string[] | undefined): OpsError {
  if (error.level === "client-authentication") return authError(endpoint, tried, serverMethods);
  if (error.level === "client-socket" || error.level === "client-dns") {
    const code = typeof error.code === "string" ? error.code : "";
    return connectError(endpoint, socketErrors[code] ?? (error.message || code), error);
  }
  // A DISCONNECT from the server while authenticating ("Too many
  // authentication failures") is an authentication failure.
  if (phase === "auth" && typeof error.code === "number") return authError(endpoint, tried, serverMethods);
  return connectError(endpoint, `SSH ${phase === "connect" ? "handshake" : "authentication"} failed: ${error.message}`, error);
}
