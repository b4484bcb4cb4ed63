/**
 * A Kubernetes API server of our own on loopback, for tests: TLS with a CA
 * made at test time, client-certificate and bearer-token authentication,
 * and real semantics for what it serves (discovery, resourceVersion and 409
 * Conflict, generation and observedGeneration, a Deployment rollout that
 * progresses over a few seconds, the scale subresource, strategic-merge,
 * merge and JSON patches, server-side apply, watch). Real kubectl is held to
 * it in test/kube-apiserver.test.ts. Every request is recorded.
 */
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { makeTestCa } from "./certs.ts";
import { defaultDeployment } from "./kube-apiserver/admission.ts";
import { handle, sendError, type HandlerState } from "./kube-apiserver/handler.ts";
import { clone } from "./kube-apiserver/patch.ts";
import { karmadaPropagationPolicy, ResourceRegistry, type CustomResourceDefinition } from "./kube-apiserver/resources.ts";
import { DeploymentController } from "./kube-apiserver/rollout.ts";
import { ApiError, badRequest, statusFailure, unauthorized } from "./kube-apiserver/status.ts";
import { ObjectStore } from "./kube-apiserver/store.ts";

export type { CustomResourceDefinition } from "./kube-apiserver/resources.ts";

export interface RecordedRequest {
  method: string;
  /** The path as sent, still percent-encoded. */
  path: string;
  query: Record<string, string>;
  contentType?: string;
  accept?: string;
  userAgent?: string;
  /** Parsed JSON when the body is JSON, else its text. */
  body?: unknown;
  /** The authenticated identity: the client certificate's CN, or "token:<name>"; "" when unauthenticated. */
  user: string;
  /** The HTTP status answered (set when the response is sent; a watch's is 200). */
  status?: number;
}

export interface KubeconfigOptions {
  auth?: "cert" | "token" | "viewer-token";
  /** Context names (default one context, "opskit-test"); the first is current. */
  contexts?: string[];
  namespace?: string;
  /** CA, certificate and key inline (*-data, base64) instead of file paths. */
  inlineData?: boolean;
}

export interface KubeApiServer {
  url: string;
  caFile: string;
  caPem: string;
  /** A client certificate signed by the CA, CN=opskit-admin (PEM files). */
  clientCertFile: string;
  clientKeyFile: string;
  /** A bearer token for user "token:admin", who may do everything. */
  token: string;
  /** A bearer token for user "token:viewer", who may only get, list and watch (403 otherwise). */
  viewerToken: string;
  requests: RecordedRequest[];
  clearRequests(): void;
  /** Write a kubeconfig (one cluster, one user, one context or several) and return its path. */
  kubeconfig(dir: string, options?: KubeconfigOptions): Promise<string>;
  /** Stored object (a deep copy) or undefined; resource is the plural, e.g. "deployments". */
  get(group: string, version: string, resource: string, namespace: string | undefined, name: string): any;
  /**
   * Seed/replace an object as a controller would (no admission; defaults
   * filled in); returns the stored copy. Its namespace is created if missing.
   * A Deployment without status is already rolled out; with one, its rollout
   * goes on from there.
   */
  seed(object: any): any;
  /** Make a Deployment's new pods never become ready (true), or let its rollout go on (false). */
  setRolloutStalled(namespace: string, name: string, stalled: boolean): void;
  stop(): Promise<void>;
}

export interface KubeApiServerOptions {
  /** How long one rollout step (a pod added, ready or removed) takes. Default 300 ms. */
  rolloutStepMs?: number;
  /** Objects stored at start, as by seed(). */
  objects?: any[];
  /** Custom resources served (default: Karmada's PropagationPolicy). */
  customResources?: CustomResourceDefinition[];
  /** Answer aggregated discovery when asked for it (default true); false serves the legacy documents only. */
  aggregatedDiscovery?: boolean;
}

/** The API server's own limit on request bodies. */
const MAX_BODY = 3 * 1024 * 1024;

const timestamp = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => (size > MAX_BODY ? reject(statusFailure(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")) : resolve(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}

function recordedBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  const text = body.toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const ca = await makeTestCa("opskit-kube-");
  const serving = await ca.issue("kube-apiserver", { san: "DNS:localhost,IP:127.0.0.1" });
  const client = await ca.issue("opskit-admin", { client: true });
  const caPem = readFileSync(ca.caCert, "utf8");
  const token = randomBytes(24).toString("hex");
  const viewerToken = randomBytes(24).toString("hex");
  const tokens = new Map([
    [token, "token:admin"],
    [viewerToken, "token:viewer"],
  ]);

  const registry = new ResourceRegistry(options.customResources ?? [karmadaPropagationPolicy]);
  const store = new ObjectStore();
  const deployments = registry.find("apps", "v1", "deployments")!;
  const namespaces = registry.find("", "v1", "namespaces")!;
  const controller = new DeploymentController(
    options.rolloutStepMs ?? 300,
    (ns, name) => store.get(deployments, ns, name),
    () => store.list(deployments),
    (ns, name, status) => {
      const current = store.get(deployments, ns, name);
      if (current) store.put(deployments, { ...clone(current), status });
    },
  );
  const watches = new Set<() => void>();
  const requests: RecordedRequest[] = [];
  let serverAddress = "127.0.0.1:0";

  const state: HandlerState = {
    store,
    controller,
    namespaces,
    types: registry.types,
    registry,
    get serverAddress() {
      return serverAddress;
    },
    aggregatedDiscovery: options.aggregatedDiscovery ?? true,
    adminUsers: new Set(["opskit-admin", "token:admin"]),
    readOnlyUsers: new Set(["token:viewer"]),
    trackWatch(stop) {
      watches.add(stop);
      return () => watches.delete(stop);
    },
  };

  const seed = (object: any): any => {
    const type = registry.byKind(object?.apiVersion, object?.kind);
    if (!type) throw new Error(`seed: the server does not serve ${object?.apiVersion} ${object?.kind}`);
    const o = clone(object);
    o.metadata ??= {};
    if (type.namespaced) o.metadata.namespace ??= "default";
    else delete o.metadata.namespace;
    // A namespaced object's namespace is made with it, so tests can seed into any namespace.
    if (type.namespaced && !store.get(namespaces, undefined, o.metadata.namespace)) seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: o.metadata.namespace } });
    const before = store.get(type, o.metadata.namespace, o.metadata.name);
    o.metadata.uid ??= before?.metadata.uid ?? crypto.randomUUID();
    o.metadata.creationTimestamp ??= before?.metadata.creationTimestamp ?? timestamp();
    if (type.generation) o.metadata.generation ??= 1;
    if (type === deployments) defaultDeployment(o);
    if (type === namespaces) o.status ??= { phase: "Active" };
    const stored = store.put(type, o);
    if (type === deployments) controller.adopt(stored);
    return clone(store.get(type, o.metadata.namespace, o.metadata.name));
  };
  for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) seed({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  for (const o of options.objects ?? []) seed(o);

  const authenticate = (req: IncomingMessage): string | undefined => {
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const cn = socket.getPeerCertificate()?.subject?.CN;
      if (typeof cn === "string" && cn) return cn;
    }
    const header = req.headers.authorization ?? "";
    const m = header.match(/^Bearer\s+(\S+)\s*$/i);
    return m ? tokens.get(m[1]!) : undefined;
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    const query = new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : "");
    const user = authenticate(req) ?? "";
    const entry: RecordedRequest = {
      method: req.method ?? "GET",
      path: rawPath,
      query: Object.fromEntries(query),
      ...(req.headers["content-type"] ? { contentType: req.headers["content-type"] } : {}),
      ...(req.headers.accept ? { accept: req.headers.accept } : {}),
      ...(req.headers["user-agent"] ? { userAgent: req.headers["user-agent"] } : {}),
      user,
    };
    requests.push(entry);
    res.on("finish", () => (entry.status = res.statusCode));
    try {
      const body = await readBody(req);
      const parsed = recordedBody(body);
      if (parsed !== undefined) entry.body = parsed;
      if (!user) throw unauthorized();
      let segments: string[];
      try {
        segments = rawPath.split("/").slice(1).map(decodeURIComponent);
      } catch {
        throw badRequest("the path is not valid percent-encoding");
      }
      if (segments.length > 1 && segments[segments.length - 1] === "") segments.pop();
      handle(state, req, res, segments, query, body, user);
      if (res.headersSent && !res.writableEnded) entry.status = 200;
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (!(error instanceof ApiError)) console.error("kube-apiserver harness:", error);
      sendError(res, error);
    }
  };

  const http = createHttpServer((req, res) => void onRequest(req, res));
  const sockets = new Set<Socket>();
  const tls = createTlsServer(
    { key: readFileSync(serving.key), cert: readFileSync(serving.cert), ca: caPem, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
      http.emit("connection", socket);
    },
  );
  tls.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve, reject) => {
    tls.once("error", reject);
    tls.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (tls.address() as { port: number }).port;
  serverAddress = `127.0.0.1:${port}`;
  const url = `https://127.0.0.1:${port}`;
  let written = 0;

  return {
    url,
    caFile: ca.caCert,
    caPem,
    clientCertFile: client.cert,
    clientKeyFile: client.key,
    token,
    viewerToken,
    requests,
    clearRequests: () => void requests.splice(0),
    async kubeconfig(dir, o = {}) {
      const auth = o.auth ?? "cert";
      const b64 = (file: string) => readFileSync(file).toString("base64");
      const userName = auth === "cert" ? "opskit-admin" : auth === "token" ? "token-admin" : "token-viewer";
      const user =
        auth === "cert"
          ? o.inlineData
            ? { "client-certificate-data": b64(client.cert), "client-key-data": b64(client.key) }
            : { "client-certificate": client.cert, "client-key": client.key }
          : { token: auth === "token" ? token : viewerToken };
      const contexts = o.contexts?.length ? o.contexts : ["opskit-test"];
      const config = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "opskit-test", cluster: { server: url, ...(o.inlineData ? { "certificate-authority-data": b64(ca.caCert) } : { "certificate-authority": ca.caCert }) } }],
        users: [{ name: userName, user }],
        contexts: contexts.map((name) => ({ name, context: { cluster: "opskit-test", user: userName, ...(o.namespace ? { namespace: o.namespace } : {}) } })),
        "current-context": contexts[0],
      };
      const path = join(dir, `kubeconfig-${auth}-${++written}.yaml`);
      await writeFile(path, toYaml(config), { mode: 0o600 });
      return path;
    },
    get(group, version, resource, namespace, name) {
      const type = registry.find(group, version, resource);
      if (!type) return undefined;
      const o = store.get(type, type.namespaced ? namespace : undefined, name);
      return o === undefined ? undefined : clone(o);
    },
    seed,
    setRolloutStalled: (namespace, name, stalled) => controller.setStalled(namespace, name, stalled),
    async stop() {
      controller.stop();
      for (const stop of [...watches]) stop();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
      http.close();
      await rm(ca.dir, { recursive: true, force: true });
    },
  };
}
