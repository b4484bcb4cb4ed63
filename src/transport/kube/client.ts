import { configError, ExitCode, OpsError } from "../../errors.ts";
import { credentialSource, readMaterial, type Credentials, type CredentialSource } from "./credentials.ts";
import { Discovery, pathOf, type KubeResource, type ResourceRef, type Timing } from "./discovery.ts";
import { defaultKubeconfig, readKubeconfig, type KubeconfigContext, type LoadedKubeconfig, type ReadOptions } from "./kubeconfig.ts";

/*
 * A Kubernetes API client over Bun's fetch, whose `tls: { ca, cert, key }`
 * does what the kubeconfig says (a cluster's CA, a client certificate,
 * tls-server-name, insecure-skip-tls-verify). JSON in, JSON out; every
 * request has a timeout and the caller's AbortSignal; a 401 to refreshable
 * credentials (an exec plugin, a token file) gets new ones and one retry.
 */

export interface KubeRequest {
  method: string;
  /** Already encoded: build it with resourcePath (or pathOf), never from raw values. */
  path: string;
  query?: Record<string, string>;
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
  contentType?: string;
  accept?: string;
  timeoutMs: number;
  signal: AbortSignal;
}

export interface WatchEvent {
  type: string;
  object: any;
}

export interface KubeClient {
  readonly context: KubeconfigContext;
  /** The kubeconfig file (or list) it was made from. */
  readonly kubeconfig: string;
  /** Transport and authentication failures throw an OpsError; any other status returns with its body (a Status for errors). */
  request<T = unknown>(req: KubeRequest): Promise<{ status: number; body: T }>;
  /**
   * Streams a watch (?watch=true) until `onEvent` returns true, the server
   * ends it, or the timeout passes (which ends it quietly). A non-2xx answer
   * throws a KubeStatusError.
   */
  watch(path: string, query: Record<string, string>, onEvent: (event: WatchEvent) => boolean | void, options: { timeoutMs: number; signal: AbortSignal }): Promise<void>;
  /** The URL path of an object or collection, via discovery (cached); every segment from a value is encoded. */
  resourcePath(ref: ResourceRef, timing?: Timing): Promise<string>;
  /** The resource type a reference names, via discovery (cached). */
  resolveResource(ref: ResourceRef, timing?: Timing): Promise<KubeResource>;
}

/** A non-2xx answer where the caller wanted success (a watch); `body` is the server's Status when it sent one. */
export class KubeStatusError extends OpsError {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
    hint?: string,
  ) {
    super({ code: "E_KUBE_STATUS", message, ...(hint ? { hint } : {}), exitCode: ExitCode.check });
  }
}

export interface ClientOptions extends ReadOptions {
  /** Sent as User-Agent. */
  userAgent?: string;
}

const DISCOVERY_TIMEOUT_MS = 30_000;

interface Tls {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  serverName?: string;
}

/**
 * A client for one context of a kubeconfig (a file or a KUBECONFIG-style
 * list; by default $KUBECONFIG, else ~/.kube/config); without a context
 * name, the kubeconfig's current-context.
 */
export async function kubeClient(kubeconfigPath: string | undefined, contextName?: string, options: ClientOptions = {}): Promise<KubeClient> {
  const path = kubeconfigPath ?? defaultKubeconfig(options);
  const config = await readKubeconfig(path, options);
  return clientFor(config, contextName, options);
}

function pickContext(config: LoadedKubeconfig, name: string | undefined) {
  const chosen = name ?? config.currentContext;
  const known = [...config.contextEntries.keys()];
  if (!chosen) throw configError("E_KUBE_CONTEXT", `${config.file} sets no current-context, and no context was named`, `name one (kube.context in the step, or a kubeconfig inventory source); defined: ${known.join(", ") || "none"}`);
  const context = config.contextEntries.get(chosen);
  if (!context) {
    const where = name ? "" : ` (current-context, ${config.currentContextWhere})`;
    throw configError("E_KUBE_CONTEXT", `${config.file} has no context "${chosen}"${where}`, `defined contexts: ${known.join(", ") || "none"}`);
  }
  return context;
}

async function clientFor(config: LoadedKubeconfig, contextName: string | undefined, options: ClientOptions): Promise<KubeClient> {
  const entry = pickContext(config, contextName);
  const cluster = config.clusters.get(entry.cluster)!;
  const user = config.users.get(entry.user)!;
  const ca = cluster.ca ? await readMaterial(cluster.ca, "certificate authority") : undefined;
  const credentials: CredentialSource = await credentialSource(user, cluster, ca);
  const { where: _, ...context } = entry;
  const base: Tls = {
    ...(ca ? { ca } : {}),
    ...(cluster.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
    ...(cluster.tlsServerName ? { serverName: cluster.tlsServerName } : {}),
  };
  const shown = `context "${context.name}" (${cluster.server})`;
  const userAgent = options.userAgent ?? "opskit";

  const send = async (req: KubeRequest, creds: Credentials): Promise<Response> => {
    const url = new URL(cluster.server + req.path);
    for (const [key, value] of Object.entries(req.query ?? {})) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: req.accept ?? "application/json", "user-agent": userAgent };
    if (creds.token) headers.authorization = `Bearer ${creds.token}`;
    else if (creds.basic) headers.authorization = `Basic ${Buffer.from(creds.basic).toString("base64")}`;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = typeof req.body === "string" ? req.body : JSON.stringify(req.body);
      headers["content-type"] = req.contentType ?? "application/json";
    }
    const tls: Tls = { ...base, ...(creds.cert && creds.key ? { cert: creds.cert, key: creds.key } : {}) };
    try {
      return await fetch(url, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        tls,
        redirect: "manual",
        signal: AbortSignal.any([req.signal, AbortSignal.timeout(req.timeoutMs)]),
      } as RequestInit);
    } catch (error) {
      throw transportError(error, req, shown, cluster.name, req.signal);
    }
  };

  /** Sends with the current credentials; after a 401, once more with fresh ones if they can be had. */
  const authenticated = async (req: KubeRequest): Promise<Response> => {
    const timing = { timeoutMs: req.timeoutMs, signal: req.signal };
    const creds = await credentials.get(timing);
    const response = await send(req, creds);
    if (response.status !== 401) return response;
    await response.body?.cancel().catch(() => undefined);
    const fresh = await credentials.refresh(creds, timing);
    const retried = fresh ? await send(req, fresh) : response;
    if (retried.status !== 401) return retried;
    throw new OpsError({
      code: "E_KUBE_UNAUTHORIZED",
      message: `${shown} refused the credentials of user "${user.name}" (401 Unauthorized)`,
      hint: `${user.where(["name"])}: renew them (an expired token or certificate, a plugin's login) or fix the user entry`,
      exitCode: ExitCode.transport,
    });
  };

  const request = async <T>(req: KubeRequest): Promise<{ status: number; body: T }> => {
    const response = await authenticated(req);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw transportError(error, req, shown, cluster.name, req.signal);
    }
    return { status: response.status, body: parseBody(text, response.headers.get("content-type")) as T };
  };

  const discovery = new Discovery((path, timing) => request({ method: "GET", path, ...timing }), shown);
  /** Discovery without a caller's deadline still has one. */
  const timingOf = (timing: Timing | undefined): Timing => timing ?? { timeoutMs: DISCOVERY_TIMEOUT_MS, signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) };

  return {
    context,
    kubeconfig: config.file,
    request,
    async watch(path, query, onEvent, { timeoutMs, signal }) {
      const stop = new AbortController();
      const req: KubeRequest = { method: "GET", path, query: { ...query, watch: "true" }, timeoutMs, signal: AbortSignal.any([signal, stop.signal]) };
      let response: Response;
      try {
        response = await authenticated(req);
      } catch (error) {
        if (stop.signal.aborted || (error instanceof OpsError && error.code === "E_KUBE_TIMEOUT" && !signal.aborted)) return;
        throw error;
      }
      if (response.status < 200 || response.status > 299) {
        const body = parseBody(await response.text().catch(() => ""), response.headers.get("content-type"));
        throw new KubeStatusError(response.status, body, `${shown}: watch ${path} answered ${response.status}: ${statusMessage(body)}`);
      }
      if (!response.body) return;
      const decoder = new TextDecoder();
      let buffered = "";
      try {
        for await (const chunk of response.body) {
          buffered += decoder.decode(chunk, { stream: true });
          let newline: number;
          while ((newline = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (!line) continue;
            let event: WatchEvent;
            try {
              event = JSON.parse(line) as WatchEvent;
            } catch {
              throw new OpsError({ code: "E_KUBE_WATCH", message: `${shown}: watch ${path} sent a line that is not JSON`, exitCode: ExitCode.check });
            }
            if (onEvent(event) === true) {
              stop.abort();
              return;
            }
          }
        }
      } catch (error) {
        // The watch's own deadline, or the caller having its answer, ends it quietly; the caller's abort does not.
        if (stop.signal.aborted) return;
        if (signal.aborted) throw interrupted();
        if (isAbort(error)) return;
        if (error instanceof OpsError) throw error;
        throw transportError(error, req, shown, cluster.name, signal);
      }
    },
    resolveResource: (ref, timing) => discovery.resolve(ref, timingOf(timing)),
    async resourcePath(ref, timing) {
      return pathOf(await discovery.resolve(ref, timingOf(timing)), ref);
    },
  };
}

function parseBody(text: string, contentType: string | null): unknown {
  if (!text) return undefined;
  if (contentType?.includes("json") || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {}
  }
  return text;
}

/** A Status body's message, or the text the server sent. */
export function statusMessage(body: unknown): string {
  if (body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") return (body as { message: string }).message;
  if (typeof body === "string" && body.trim()) return body.trim().slice(0, 300);
  return "no message";
}

const isAbort = (error: unknown) => error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
const interrupted = () => new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted });

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO|EPROTO|TLS|SSL|HANDSHAKE/i;

/** What went wrong on the way to the server, said for an operator. */
function transportError(error: unknown, req: KubeRequest, shown: string, cluster: string, signal: AbortSignal): OpsError {
  if (error instanceof OpsError) return error;
  if (signal.aborted) return interrupted();
  const what = `${req.method} ${req.path}`;
  if (isAbort(error)) {
    return new OpsError({ code: "E_KUBE_TIMEOUT", message: `${shown}: ${what} timed out after ${req.timeoutMs} ms`, hint: "raise the step's timeout, or check that the API server answers", exitCode: ExitCode.transport, cause: error });
  }
  const code = String((error as { code?: unknown }).code ?? "");
  const message = error instanceof Error ? error.message : String(error);
  if (TLS_CODES.test(code)) {
    return new OpsError({
      code: "E_KUBE_TLS",
      message: `${shown}: TLS failed (${code}): ${message}`,
      hint: `check cluster "${cluster}"'s certificate-authority (the CA that signed the server's certificate), tls-server-name, and the user's client certificate and key`,
      exitCode: ExitCode.transport,
      cause: error,
    });
  }
  return new OpsError({ code: "E_KUBE_CONNECT", message: `${shown}: cannot reach the API server: ${message}`, hint: `check cluster "${cluster}"'s server URL and that the API server is up`, exitCode: ExitCode.transport, cause: error });
}
