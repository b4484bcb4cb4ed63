import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeKubePki, type KubePki } from "../../../test/harness/kube-pki.ts";
import { OpsError } from "../../errors.ts";
import { clearExecCache, kubeClient, pathSegment } from "./index.ts";

// The client against a small TLS API server of the test's own: mutual TLS
// with the cluster's CA, bearer tokens, exec credential plugins (a script
// that counts its runs), tls-server-name, and object names that must stay
// one encoded path segment.

interface Seen {
  method: string;
  /** The path as it arrived, still percent-encoded. */
  path: string;
  search: string;
  auth: string | null;
  contentType: string | null;
}

interface Fixture {
  url: string;
  seen: Seen[];
  /** Bearer tokens the server accepts now. */
  tokens: Set<string>;
  stop(): void;
}

const discovery: Record<string, unknown> = {
  "/api": { kind: "APIVersions", versions: ["v1"] },
  "/api/v1": {
    kind: "APIResourceList",
    groupVersion: "v1",
    resources: [
      { name: "configmaps", singularName: "configmap", namespaced: true, kind: "ConfigMap", shortNames: ["cm"], verbs: ["get"] },
      { name: "namespaces", singularName: "namespace", namespaced: false, kind: "Namespace", shortNames: ["ns"], verbs: ["get"] },
    ],
  },
  "/apis": {
    kind: "APIGroupList",
    groups: [
      { name: "apps", versions: [{ groupVersion: "apps/v1", version: "v1" }], preferredVersion: { groupVersion: "apps/v1", version: "v1" } },
      { name: "policy.karmada.io", versions: [{ groupVersion: "policy.karmada.io/v1alpha1", version: "v1alpha1" }], preferredVersion: { groupVersion: "policy.karmada.io/v1alpha1", version: "v1alpha1" } },
    ],
  },
  "/apis/apps/v1": {
    kind: "APIResourceList",
    groupVersion: "apps/v1",
    resources: [
      { name: "deployments", singularName: "deployment", namespaced: true, kind: "Deployment", shortNames: ["deploy"], verbs: ["get", "patch"] },
      { name: "deployments/scale", singularName: "", namespaced: true, kind: "Scale", verbs: ["get", "patch"] },
      { name: "deployments/status", singularName: "", namespaced: true, kind: "Deployment", verbs: ["get"] },
    ],
  },
  "/apis/policy.karmada.io/v1alpha1": {
    kind: "APIResourceList",
    groupVersion: "policy.karmada.io/v1alpha1",
    resources: [{ name: "propagationpolicies", singularName: "propagationpolicy", namespaced: true, kind: "PropagationPolicy", shortNames: ["pp"], verbs: ["get"] }],
  },
};

function startFixture(pki: KubePki, requireCert: boolean): Fixture {
  const seen: Seen[] = [];
  const tokens = new Set<string>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caPem, requestCert: requireCert, rejectUnauthorized: requireCert },
    fetch(req) {
      const url = new URL(req.url);
      const auth = req.headers.get("authorization");
      seen.push({ method: req.method, path: url.pathname, search: url.search, auth, contentType: req.headers.get("content-type") });
      if (!requireCert && !(auth?.startsWith("Bearer ") && tokens.has(auth.slice(7)))) {
        return Response.json({ kind: "Status", apiVersion: "v1", status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 }, { status: 401 });
      }
      if (url.pathname in discovery) return Response.json(discovery[url.pathname]);
      const object = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)$/.exec(url.pathname);
      if (object) {
        const name = decodeURIComponent(object[2]!);
        return Response.json({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: decodeURIComponent(object[1]!), resourceVersion: "7" } });
      }
      return Response.json({ kind: "Status", apiVersion: "v1", status: "Failure", message: `the server could not find the requested resource`, reason: "NotFound", code: 404 }, { status: 404 });
    },
  });
  return { url: `https://127.0.0.1:${server.port}`, seen, tokens, stop: () => server.stop(true) };
}

let pki: KubePki;
let dir: string;
let certServer: Fixture;
let tokenServer: Fixture;
const timing = () => ({ timeoutMs: 5000, signal: new AbortController().signal });

beforeAll(async () => {
  pki = await makeKubePki();
  dir = await mkdtemp(join(tmpdir(), "opskit-kube-client-"));
  certServer = startFixture(pki, true);
  tokenServer = startFixture(pki, false);
});

afterAll(async () => {
  certServer?.stop();
  tokenServer?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(pki.dir, { recursive: true, force: true });
});

beforeEach(() => clearExecCache());

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A kubeconfig in its own directory; returns its path. */
async function kubeconfig(name: string, yaml: string): Promise<string> {
  const home = join(dir, name);
  await mkdir(home, { recursive: true });
  await writeFile(join(home, "config"), yaml);
  return join(home, "config");
}

const get = (client: Awaited<ReturnType<typeof kubeClient>>, path = "/api") => client.request({ method: "GET", path, ...timing() });

describe("TLS and client certificates", () => {
  test("CA, client certificate and key as files relative to the kubeconfig's directory (not the working directory)", async () => {
    const client = await pki.client("opskit-admin");
    const path = await kubeconfig("files", "");
    const home = join(path, "..");
    await mkdir(join(home, "pki"), { recursive: true });
    await writeFile(join(home, "pki", "ca.crt"), pki.caPem);
    await writeFile(join(home, "pki", "admin.crt"), client.cert);
    await writeFile(join(home, "pki", "admin.key"), client.key);
    await writeFile(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: c\n  cluster:\n    server: ${certServer.url}\n    certificate-authority: pki/ca.crt`,
        "users:",
        "- name: u\n  user:\n    client-certificate: pki/admin.crt\n    client-key: pki/admin.key",
        "contexts:",
        "- name: files\n  context: { cluster: c, user: u, namespace: prod }",
        "current-context: files",
      ].join("\n"),
    );
    const kube = await kubeClient(path);
    expect(kube.context).toMatchObject({ name: "files", cluster: "c", user: "u", namespace: "prod", server: certServer.url });
    expect((await get(kube)).status).toBe(200);
  });

  test("the same material inline as -data, and tls-server-name verified against the server's certificate", async () => {
    const client = await pki.client("opskit-admin");
    const config = (serverName: string) =>
      [
        "clusters:",
        `- name: c\n  cluster:\n    server: ${certServer.url}\n    certificate-authority-data: ${b64(pki.caPem)}\n    tls-server-name: ${serverName}`,
        `users:\n- name: u\n  user:\n    client-certificate-data: ${b64(client.cert)}\n    client-key-data: ${b64(client.key)}`,
        "contexts:\n- name: data\n  context: { cluster: c, user: u }",
      ].join("\n");
    expect((await get(await kubeClient(await kubeconfig("data", config("kube.example")), "data"))).status).toBe(200);
    const wrong = await kubeClient(await kubeconfig("data-wrong-name", config("other.example")), "data");
    const error = await get(wrong).catch((e: OpsError) => e);
    expect(error).toBeInstanceOf(OpsError);
    expect((error as OpsError).code).toBe("E_KUBE_TLS");
  });

  test("without the cluster's CA the server is not trusted; with insecure-skip-tls-verify it is", async () => {
    const client = await pki.client("opskit-admin");
    const user = `users:\n- name: u\n  user:\n    client-certificate: ${client.certFile}\n    client-key: ${client.keyFile}`;
    const noCa = await kubeClient(await kubeconfig("no-ca", [`clusters:\n- name: c\n  cluster:\n    server: ${certServer.url}`, user, "contexts:\n- name: x\n  context: { cluster: c, user: u }"].join("\n")), "x");
    expect(((await get(noCa).catch((e) => e)) as OpsError).code).toBe("E_KUBE_TLS");
    const insecure = await kubeClient(
      await kubeconfig("insecure", [`clusters:\n- name: c\n  cluster:\n    server: ${certServer.url}\n    insecure-skip-tls-verify: true`, user, "contexts:\n- name: x\n  context: { cluster: c, user: u }"].join("\n")),
      "x",
    );
    expect((await get(insecure)).status).toBe(200);
  });

  test("a server that wants a client certificate refuses a user without one", async () => {
    const path = await kubeconfig("no-cert", [`clusters:\n- name: c\n  cluster:\n    server: ${certServer.url}\n    certificate-authority: ${pki.caFile}`, "users:\n- name: u\n  user: { token: abc }", "contexts:\n- name: x\n  context: { cluster: c, user: u }"].join("\n"));
    const error = (await get(await kubeClient(path, "x")).catch((e) => e)) as OpsError;
    expect(["E_KUBE_TLS", "E_KUBE_CONNECT"]).toContain(error.code);
  });
});

/** A credential plugin: a shell script that counts its runs in `counter`, records KUBERNETES_EXEC_INFO, and answers with token-N. */
async function plugin(name: string, options: { expiresInSec?: number; version?: string } = {}) {
  const home = join(dir, name);
  await mkdir(home, { recursive: true });
  const counter = join(home, "runs");
  const script = join(home, "plugin.sh");
  const version = options.version ?? "client.authentication.k8s.io/v1";
  const expiry = options.expiresInSec === undefined ? "" : `,"expirationTimestamp":"'"$(date -u -d "+${options.expiresInSec} seconds" +%Y-%m-%dT%H:%M:%SZ)"'"`;
  await writeFile(
    script,
    [
      "#!/bin/sh",
      `n=$(( $(cat "${counter}" 2>/dev/null || echo 0) + 1 ))`,
      `echo $n > "${counter}"`,
      `printf '%s' "$KUBERNETES_EXEC_INFO" > "${home}/exec-info"`,
      `printf '%s' "$PLUGIN_GREETING" > "${home}/env"`,
      `echo '{"apiVersion":"${version}","kind":"ExecCredential","status":{"token":"token-'$n'"${expiry}}}'`,
    ].join("\n"),
  );
  await chmod(script, 0o755);
  const runs = async () => Number((await readFile(counter, "utf8").catch(() => "0")).trim());
  return { home, script, runs };
}

const execKubeconfig = (server: string, command: string, extra = "") =>
  [
    `clusters:\n- name: c\n  cluster:\n    server: ${server}\n    certificate-authority: ${pki.caFile}`,
    "users:",
    "- name: u",
    "  user:",
    "    exec:",
    "      apiVersion: client.authentication.k8s.io/v1",
    `      command: ${command}`,
    "      args: [get-token, --cluster, c]",
    "      env: [{ name: PLUGIN_GREETING, value: hello }]",
    "      interactiveMode: Never",
    "      provideClusterInfo: true",
    "      installHint: install it with apt-get install opskit-test-plugin",
    extra,
    "contexts:\n- name: x\n  context: { cluster: c, user: u }",
    "current-context: x",
  ].join("\n");

describe("exec credential plugins", () => {
  test("the token is cached until its expirationTimestamp, then the plugin runs again", async () => {
    const p = await plugin("exec-expiry", { expiresInSec: 3 });
    tokenServer.tokens.add("token-1");
    tokenServer.tokens.add("token-2");
    const client = await kubeClient(await kubeconfig("exec-expiry", execKubeconfig(tokenServer.url, p.script)));
    for (let i = 0; i < 3; i++) expect((await get(client)).status).toBe(200);
    expect(await p.runs()).toBe(1);
    // A second client of the same plugin shares the cache (it is per plugin, in memory).
    expect((await get(await kubeClient(await kubeconfig("exec-expiry-2", execKubeconfig(tokenServer.url, p.script))))).status).toBe(200);
    expect(await p.runs()).toBe(1);
    await Bun.sleep(3500);
    expect((await get(client)).status).toBe(200);
    expect(await p.runs()).toBe(2);
    expect(tokenServer.seen.at(-1)!.auth).toBe("Bearer token-2");
    // What the plugin was told: ExecCredential v1, not interactive, the cluster (provideClusterInfo), and its env entry.
    const info = JSON.parse(await readFile(join(p.home, "exec-info"), "utf8"));
    expect(info).toMatchObject({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", spec: { interactive: false, cluster: { server: tokenServer.url, "certificate-authority-data": b64(pki.caPem) } } });
    expect(await readFile(join(p.home, "env"), "utf8")).toBe("hello");
  });

  test("a token without expiry is kept, and a 401 runs the plugin again and retries the request once", async () => {
    const p = await plugin("exec-401");
    tokenServer.tokens.add("token-1");
    const client = await kubeClient(await kubeconfig("exec-401", execKubeconfig(tokenServer.url, p.script)));
    expect((await get(client)).status).toBe(200);
    expect((await get(client)).status).toBe(200);
    expect(await p.runs()).toBe(1);
    tokenServer.tokens.delete("token-1");
    tokenServer.tokens.add("token-2");
    const before = tokenServer.seen.length;
    expect((await get(client)).status).toBe(200);
    expect(await p.runs()).toBe(2);
    expect(tokenServer.seen.slice(before).map((s) => s.auth)).toEqual(["Bearer token-1", "Bearer token-2"]);
    // Refused again after a fresh token: an authentication failure naming the user, not a loop.
    tokenServer.tokens.delete("token-2");
    const error = (await get(client).catch((e) => e)) as OpsError;
    expect(error.code).toBe("E_KUBE_UNAUTHORIZED");
    expect(error.message).toContain('user "u"');
    expect(await p.runs()).toBe(3);
  });

  test("a missing plugin's error carries the installHint; a relative command is read from the kubeconfig's directory", async () => {
    const missing = await kubeClient(await kubeconfig("exec-missing", execKubeconfig(tokenServer.url, "opskit-no-such-plugin")));
    const error = (await get(missing).catch((e) => e)) as OpsError;
    expect(error.code).toBe("E_KUBE_EXEC");
    expect(error.hint).toContain("apt-get install opskit-test-plugin");
    expect(error.message).toMatch(/config:\d+:\d+: credential plugin opskit-no-such-plugin/);
    const p = await plugin("exec-relative");
    tokenServer.tokens.add("token-1");
    // ./plugin.sh beside the kubeconfig, whatever the working directory.
    expect((await get(await kubeClient(await kubeconfig("exec-relative", execKubeconfig(tokenServer.url, "./plugin.sh"))))).status).toBe(200);
    expect(await p.runs()).toBe(1);
  });

  test("an answer of the wrong version, or without a token, fails with what a plugin must print", async () => {
    const p = await plugin("exec-version", { version: "client.authentication.k8s.io/v1beta1" });
    const error = (await get(await kubeClient(await kubeconfig("exec-version", execKubeconfig(tokenServer.url, p.script)))).catch((e) => e)) as OpsError;
    expect(error.code).toBe("E_KUBE_EXEC");
    expect(error.message).toContain("client.authentication.k8s.io/v1beta1");
    expect(error.hint).toContain("status.token");
  });

  test("the plugin can answer with a client certificate and key", async () => {
    const cert = await pki.client("plugin-user");
    const home = join(dir, "exec-cert");
    await mkdir(home, { recursive: true });
    const answer = JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: { clientCertificateData: cert.cert, clientKeyData: cert.key } });
    await writeFile(join(home, "answer.json"), answer);
    await writeFile(join(home, "plugin.sh"), `#!/bin/sh\ncat "${join(home, "answer.json")}"\n`);
    await chmod(join(home, "plugin.sh"), 0o755);
    const config = [
      `clusters:\n- name: c\n  cluster:\n    server: ${certServer.url}\n    certificate-authority: ${pki.caFile}`,
      `users:\n- name: u\n  user:\n    exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: ${join(home, "plugin.sh")} }`,
      "contexts:\n- name: x\n  context: { cluster: c, user: u }",
    ].join("\n");
    expect((await get(await kubeClient(await kubeconfig("exec-cert", config), "x"))).status).toBe(200);
  });

  test("a tokenFile is read again after a 401 (a rotated token)", async () => {
    const home = join(dir, "token-file");
    await mkdir(home, { recursive: true });
    await writeFile(join(home, "token"), "rotating-1\n");
    tokenServer.tokens.add("rotating-1");
    const path = await kubeconfig("token-file", [`clusters:\n- name: c\n  cluster:\n    server: ${tokenServer.url}\n    certificate-authority: ${pki.caFile}`, "users:\n- name: u\n  user: { tokenFile: token }", "contexts:\n- name: x\n  context: { cluster: c, user: u }"].join("\n"));
    const client = await kubeClient(path, "x");
    expect((await get(client)).status).toBe(200);
    await writeFile(join(home, "token"), "rotating-2\n");
    tokenServer.tokens.delete("rotating-1");
    tokenServer.tokens.add("rotating-2");
    expect((await get(client)).status).toBe(200);
    expect(tokenServer.seen.at(-1)!.auth).toBe("Bearer rotating-2");
  });
});

describe("discovery and paths", () => {
  let client: Awaited<ReturnType<typeof kubeClient>>;
  beforeAll(async () => {
    tokenServer.tokens.add("static");
    client = await kubeClient(await kubeconfig("paths", [`clusters:\n- name: c\n  cluster:\n    server: ${tokenServer.url}\n    certificate-authority: ${pki.caFile}`, "users:\n- name: u\n  user: { token: static }", "contexts:\n- name: x\n  context: { cluster: c, user: u }"].join("\n")), "x");
  });

  test("a type is found by plural, singular, kind, short name and group, as kubectl takes it", async () => {
    for (const type of ["deployment", "deployments", "Deployment", "deploy", "deployments.apps", "deployments.v1.apps"]) {
      expect(await client.resourcePath({ resource: type, namespace: "prod", name: "api" })).toBe("/apis/apps/v1/namespaces/prod/deployments/api");
    }
    expect(await client.resourcePath({ resource: "deploy", namespace: "prod", name: "api", subresource: "scale" })).toBe("/apis/apps/v1/namespaces/prod/deployments/api/scale");
    expect(await client.resourcePath({ resource: "cm", namespace: "prod", name: "settings" })).toBe("/api/v1/namespaces/prod/configmaps/settings");
    // Cluster-scoped: the namespace is left out.
    expect(await client.resourcePath({ resource: "ns", namespace: "prod", name: "prod" })).toBe("/api/v1/namespaces/prod");
    expect(await client.resourcePath({ apiVersion: "policy.karmada.io/v1alpha1", kind: "PropagationPolicy", namespace: "prod", name: "api" })).toBe("/apis/policy.karmada.io/v1alpha1/namespaces/prod/propagationpolicies/api");
    expect(await client.resolveResource({ resource: "pp" })).toMatchObject({ group: "policy.karmada.io", resource: "propagationpolicies", kind: "PropagationPolicy", namespaced: true });
    expect(await client.resolveResource({ resource: "deploy" })).toMatchObject({ subresources: ["scale", "status"] });
    const unknown = (await client.resourcePath({ resource: "gizmo", name: "x" }).catch((e) => e)) as OpsError;
    expect(unknown.code).toBe("E_KUBE_UNKNOWN_TYPE");
  });

  test("discovery is fetched once per client", async () => {
    const before = tokenServer.seen.length;
    await client.resourcePath({ resource: "deploy", namespace: "a", name: "b" });
    await client.resourcePath({ resource: "cm", namespace: "a", name: "b" });
    expect(tokenServer.seen.length).toBe(before);
  });

  test("hostile names stay one encoded segment or are refused before any request", async () => {
    const before = tokenServer.seen.length;
    for (const name of ["../../api", "%2e%2e", "..", ".", "a/b", ""]) {
      const error = (await client.resourcePath({ resource: "deploy", namespace: "prod", name }).catch((e) => e)) as OpsError;
      expect([name, error.code]).toEqual([name, "E_KUBE_NAME"]);
      const ns = (await client.resourcePath({ resource: "deploy", namespace: name, name: "api" }).catch((e) => e)) as OpsError;
      expect([name, ns.code]).toEqual([name, "E_KUBE_NAME"]);
    }
    expect(tokenServer.seen.length).toBe(before);
    const path = await client.resourcePath({ resource: "deploy", namespace: "prod", name: "a?b=c#d e" });
    expect(path).toBe("/apis/apps/v1/namespaces/prod/deployments/a%3Fb%3Dc%23d%20e");
    const response = await client.request<{ metadata: { name: string } }>({ method: "GET", path, ...timing() });
    expect(response.body.metadata.name).toBe("a?b=c#d e");
    expect(tokenServer.seen.at(-1)).toMatchObject({ path: "/apis/apps/v1/namespaces/prod/deployments/a%3Fb%3Dc%23d%20e", search: "" });
  });

  test("property: a value is refused, or it is exactly one path segment that decodes to itself (the URL parser as oracle)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[.%/?#a-z2eE]{0,8}$/), fc.string({ unit: "binary" }), fc.string({ unit: fc.oneof(fc.constantFrom("a", "/", "."), fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))) })), (value) => {
        let segment: string;
        try {
          segment = pathSegment(value, "name");
        } catch (error) {
          return (error as OpsError).code === "E_KUBE_NAME";
        }
        const url = new URL(`https://h/api/v1/namespaces/${segment}/x`);
        const parts = url.pathname.split("/");
        return url.search === "" && url.hash === "" && parts.length === 6 && decodeURIComponent(parts[4]!) === value;
      }),
      { numRuns: 2000 },
    );
  });
});

describe("transport failures", () => {
  test("a server that does not answer in time is a timeout; a closed port cannot be reached", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const config = (port: number) => [`clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority: ${pki.caFile}`, "users:\n- name: u\n  user: { token: t }", "contexts:\n- name: x\n  context: { cluster: c, user: u }"].join("\n");
      const slow = await kubeClient(await kubeconfig("silent", config(silent.port)), "x");
      const timeout = (await slow.request({ method: "GET", path: "/api", timeoutMs: 300, signal: new AbortController().signal }).catch((e) => e)) as OpsError;
      expect([timeout.code, timeout.exitCode]).toEqual(["E_KUBE_TIMEOUT", 1]);
      const stopped = new AbortController();
      setTimeout(() => stopped.abort(), 100);
      const aborted = (await slow.request({ method: "GET", path: "/api", timeoutMs: 5000, signal: stopped.signal }).catch((e) => e)) as OpsError;
      expect(aborted.code).toBe("E_INTERRUPTED");
    } finally {
      silent.stop(true);
    }
    const closed = await kubeClient(await kubeconfig("closed", [`clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    certificate-authority: ${pki.caFile}`, "users:\n- name: u\n  user: { token: t }", "contexts:\n- name: x\n  context: { cluster: c, user: u }"].join("\n")), "x");
    expect(((await get(closed).catch((e) => e)) as OpsError).code).toBe("E_KUBE_CONNECT");
  });
});
