// etcd's JSON gateway: POST /v3/<service>/<method> with a JSON body, the
// gRPC API's messages in JSON (https://etcd.io/docs/v3.5/dev-guide/api_grpc_gateway/).
// No gRPC library: a fetch per call, each with its own timeout under the
// caller's signal, mutual TLS through Bun's fetch, and auth by the token
// /v3/auth/authenticate hands out.
import { ExitCode, OpsError } from "../../errors.ts";
import { registerSecret } from "../../observe/index.ts";
import { parseGatewayError } from "./status.ts";

/** Every gateway path opskit calls: a fixed list, so no value from outside ever shapes a path. */
export const GATEWAY_PATHS = {
  status: "/v3/maintenance/status",
  members: "/v3/cluster/member/list",
  alarm: "/v3/maintenance/alarm",
  compact: "/v3/kv/compaction",
  defragment: "/v3/maintenance/defragment",
  moveLeader: "/v3/maintenance/transfer-leadership",
  range: "/v3/kv/range",
  authenticate: "/v3/auth/authenticate",
} as const;
export type GatewayPath = (typeof GATEWAY_PATHS)[keyof typeof GATEWAY_PATHS];

/** PEM text of the CA that signs the members' certificates, and the client's certificate and key. */
export interface EtcdTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** Accept any server certificate (a probe's --insecure). */
  insecure?: boolean;
}

export interface GatewayOptions {
  tls?: EtcdTls;
  /** An etcd user: the gateway's token is asked for once per endpoint (simple tokens are per member) and again when it expires. */
  credentials?: { username: string; password: string };
  /** Each call's limit unless the call names its own (a defragmentation takes longer). */
  timeoutMs: number;
  signal: AbortSignal;
  /** Sent with every call, e.g. a traceparent. */
  headers?: Record<string, string>;
}

/** A non-2xx answer: the gateway's gRPC status code and message. */
export class EtcdGatewayError extends OpsError {
  constructor(
    readonly grpcCode: number,
    readonly httpStatus: number,
    message: string,
    hint?: string,
  ) {
    super({ code: "E_ETCD_REQUEST", message, hint, exitCode: ExitCode.check });
  }
}

const MAX_RESPONSE_BYTES = 4 << 20;
/** gRPC's UNAUTHENTICATED: an expired or unknown token. */
const UNAUTHENTICATED = 16;

/**
 * A client URL as the config or a rendered value gives it, reduced to its
 * origin: http or https, a port, nothing else. The gateway paths are
 * appended to that origin, so a value cannot add a path, a query or
 * credentials to what is called.
 */
export function parseEndpoint(text: string, where: string): string {
  const refuse = (why: string) =>
    new OpsError({
      code: "E_ETCD_ENDPOINT",
      message: `${where}: ${JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text)} ${why}`,
      hint: "an etcd client URL such as http://10.0.0.1:2379 or https://etcd-1.internal:2379",
      exitCode: ExitCode.usage,
    });
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw refuse("is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw refuse("is not an http:// or https:// URL");
  if (url.username || url.password) throw refuse("carries credentials; give them as username and password (secret references)");
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) throw refuse("has a path, query or fragment; give the client URL only");
  if (!url.port) throw refuse("names no port (etcd's is usually 2379)");
  return url.origin;
}

export const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** Reads at most MAX_RESPONSE_BYTES of a body: a member that streams without end cannot fill memory. */
async function boundedText(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new OpsError({ code: "E_ETCD_RESPONSE", message: `answer larger than ${MAX_RESPONSE_BYTES} bytes`, exitCode: ExitCode.check });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function tlsOptions(tls: EtcdTls | undefined) {
  if (!tls) return {};
  const { insecure, ...files } = tls;
  return { ...files, ...(insecure ? { rejectUnauthorized: false } : {}) };
}

/** The calls of one action or probe: its options, and the auth token of each endpoint once asked for. */
export class EtcdGateway {
  readonly #tokens = new Map<string, Promise<string>>();

  constructor(readonly options: GatewayOptions) {}

  /** POSTs `body` to `path` on `endpoint` (an origin from parseEndpoint) and returns the parsed JSON answer. */
  async call(endpoint: string, path: GatewayPath, body: Record<string, unknown>, timeoutMs = this.options.timeoutMs): Promise<unknown> {
    if (!this.options.credentials) return this.#post(endpoint, path, body, undefined, timeoutMs);
    const token = await this.#token(endpoint);
    try {
      return await this.#post(endpoint, path, body, token, timeoutMs);
    } catch (error) {
      // Simple tokens expire (5 minutes by default): ask once more.
      if (!(error instanceof EtcdGatewayError && (error.grpcCode === UNAUTHENTICATED || /invalid auth token/.test(error.message)))) throw error;
      this.#tokens.delete(endpoint);
      return this.#post(endpoint, path, body, await this.#token(endpoint), timeoutMs);
    }
  }

  #token(endpoint: string): Promise<string> {
    let token = this.#tokens.get(endpoint);
    if (!token) {
      const { username, password } = this.options.credentials!;
      token = this.#post(endpoint, GATEWAY_PATHS.authenticate, { name: username, password }, undefined, this.options.timeoutMs).then((json) => {
        const value = (json as { token?: unknown } | null)?.token;
        if (typeof value !== "string" || value === "") {
          throw new OpsError({ code: "E_ETCD_AUTH", message: `${endpoint}: authentication gave no token`, hint: "is auth enabled on the cluster (etcdctl auth enable)?", exitCode: ExitCode.check });
        }
        // The token is a credential for as long as it lives: never printed.
        registerSecret(value, "etcd token");
        return value;
      });
      token.catch(() => this.#tokens.delete(endpoint));
      this.#tokens.set(endpoint, token);
    }
    return token;
  }

  async #post(endpoint: string, path: GatewayPath, body: Record<string, unknown>, token: string | undefined, timeoutMs: number): Promise<unknown> {
    const outer = this.options.signal;
    const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
    const url = `${endpoint}${path}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.options.headers, ...(token ? { authorization: token } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.any([outer, timeout]),
        redirect: "error",
        ...(endpoint.startsWith("https:") ? { tls: tlsOptions(this.options.tls) } : {}),
      });
      text = await boundedText(response);
    } catch (error) {
      if (error instanceof OpsError) throw error;
      if (outer.aborted) throw new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted });
      if (timeout.aborted) {
        throw new OpsError({ code: "E_ETCD_TIMEOUT", message: `${url}: no answer within ${timeoutMs} ms`, hint: "is the member overloaded or partitioned? raise the etcd action's timeout if it is just slow", exitCode: ExitCode.transport });
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new OpsError({ code: "E_ETCD_UNREACHABLE", message: `${url}: ${reason}`, hint: "check the client URL, the member's process and, for https, the ca, cert and key", exitCode: ExitCode.transport, cause: error });
    }
    let json: unknown;
    try {
      json = text === "" ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const failure = parseGatewayError(json);
      if (response.status === 401 || failure?.code === UNAUTHENTICATED || /authentication failed|user name is empty|invalid auth token/.test(failure?.message ?? "")) {
        throw new EtcdGatewayError(failure?.code ?? UNAUTHENTICATED, response.status, `${url}: ${failure?.message ?? `HTTP ${response.status}`}`, "check the etcd user and password (or whether auth is enabled)");
      }
      throw new EtcdGatewayError(failure?.code ?? -1, response.status, `${url}: ${failure?.message ?? `HTTP ${response.status} ${text.slice(0, 200)}`}`);
    }
    if (json === undefined) {
      throw new OpsError({ code: "E_ETCD_RESPONSE", message: `${url}: the answer is not JSON: ${text.slice(0, 120)}`, hint: "is this an etcd client URL?", exitCode: ExitCode.check });
    }
    return json;
  }
}
