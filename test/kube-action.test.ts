import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { repoRoot, runOpskit } from "./harness/cli.ts";
import { hostileValues } from "./harness/hostile.ts";
import { startKubeApiServer, type KubeApiServer, type RecordedRequest } from "./harness/kube-apiserver.ts";
import { isDiscoveryRequest, kubectlBinaries, kubectlRequests, runKubectl } from "./harness/kubectl.ts";
import { alertmanagerNotification, startServe, type ServeProcess } from "./harness/serve.ts";

// The kube action through `opskit run`, as users write it: a kubeconfig
// inventory source whose contexts are the targets (a client certificate, a
// bearer token, a read-only token, an exec credential plugin), against the
// test API server on loopback; the requests opskit sends are held to what
// kubectl sends for the same operation.

let server: KubeApiServer;
let dir: string;
let kubeconfig: string;
let pluginRuns: string;

const deployment = (namespace: string, replicas = 2) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "api", namespace, labels: { app: "api" } },
  spec: { replicas, selector: { matchLabels: { app: "api" } }, template: { metadata: { labels: { app: "api" } }, spec: { containers: [{ name: "app", image: "registry.example/api:1.0" }] } } },
});
const namespace = (name: string) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });

/** One context a line: [name, user, namespace, labels]. */
const contexts: [string, string, string, Record<string, string>][] = [
  ["a-cert", "cert", "team-a", { env: "prod", region: "a" }],
  ["b-token", "token", "team-b", { env: "prod", region: "b" }],
  ["viewer", "viewer", "team-a", { env: "audit" }],
  ["eu-1", "cert", "team-a", { fleet: "eu" }],
  ["eu-2", "token", "team-c", { fleet: "eu" }],
  ["eu-3", "token", "team-b", { fleet: "eu" }],
  ["plugin", "plugin", "team-b", { env: "plugin" }],
  ["kubectl", "cert", "team-k", { env: "compare" }],
  ["hostile", "token", "team-h", { env: "hostile" }],
];

beforeAll(async () => {
  server = await startKubeApiServer({
    rolloutStepMs: 100,
    objects: ["team-a", "team-b", "team-c", "team-k", "team-h", "shop-eu", "shop-us"].map(namespace).concat([deployment("team-a"), deployment("team-b"), deployment("team-k"), deployment("shop-eu"), deployment("shop-us")] as any[]),
  });
  dir = await mkdtemp(join(tmpdir(), "opskit-kube-action-"));
  // A credential plugin as EKS's or GKE's: it counts its runs and answers with the server's token.
  pluginRuns = join(dir, "plugin-runs");
  await writeFile(
    join(dir, "token-plugin.sh"),
    `#!/bin/sh\necho run >> "${pluginRuns}"\nprintf '%s' "$KUBERNETES_EXEC_INFO" > "${dir}/exec-info"\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${server.token}"}}'\n`,
  );
  await chmod(join(dir, "token-plugin.sh"), 0o755);
  const users = {
    cert: { "client-certificate": server.clientCertFile, "client-key": server.clientKeyFile },
    token: { token: server.token },
    viewer: { token: server.viewerToken },
    plugin: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "./token-plugin.sh", interactiveMode: "Never", installHint: "it is beside the kubeconfig" } },
  };
  kubeconfig = join(dir, "kubeconfig");
  await writeFile(
    kubeconfig,
    toYaml({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "loopback", cluster: { server: server.url, "certificate-authority": server.caFile } }],
      users: Object.entries(users).map(([name, user]) => ({ name, user })),
      contexts: contexts.map(([name, user, ns, labels]) => ({ name, context: { cluster: "loopback", user, namespace: ns, extensions: [{ name: "opskit", extension: { labels } }] } })),
      "current-context": "a-cert",
    }),
  );
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Event = Record<string, any>;

async function run(lines: string[], args: string[] = [], options: { command?: string[]; policy?: string } = {}) {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, [`inventory:`, `  sources:`, `    - kubeconfig: ${kubeconfig}`, ...lines, ""].join("\n"));
  const command = options.command ?? ["run", "--journal", join(dir, "journal.db"), "-c", file, "w", "--json"];
  const from = server.requests.length;
  const result = await runOpskit([...command, ...args], { cwd: dir });
  const events = result.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Event);
  const sent = server.requests.slice(from).filter((r) => (r.userAgent ?? "").startsWith("opskit"));
  return { ...result, events, steps: events.filter((e) => e.type === "step.finished"), sent, file };
}

const stepsOf = (steps: Event[], target: string) => steps.filter((s) => s.target === target).map((s) => [s.name, s.status, s.result.error?.code ?? null]);
const writes = (sent: RecordedRequest[]) => sent.filter((r) => r.method !== "GET");

describe("every verb over two contexts, one with a client certificate and one with a bearer token", () => {
  test("restart, wait, scale, patch, apply, get and delete: changed as the server says, each request as its context's user", async () => {
    const { code, steps, sent, stderr } = await run(
      [
        "workflows:",
        "  w:",
        "    targets: env=prod",
        "    vars: { level: '5' }",
        "    steps:",
        "      - { name: restart, kube: { restart: deployment/api } }",
        "      - { name: rolled, kube: { wait: { object: deploy/api, rolloutComplete: true }, timeout: 60s } }",
        "      - { name: scale, kube: { scale: { deployments.apps/api: 3 } } }",
        "      - { name: scale-again, kube: { scale: { deployment/api: '{{ 1 + 2 }}' } } }",
        "      - { name: ready, kube: { wait: { object: deployment/api, until: 'object.status.readyReplicas == 3 && object.spec.replicas == 3' }, timeout: 60s } }",
        "      - { name: label, kube: { patch: { object: deployment/api, type: merge, body: { metadata: { labels: { owner: 'team-{{ target.labels.region }}' } } } } } }",
        "      - { name: create, kube: { apply: { object: { apiVersion: v1, kind: ConfigMap, metadata: { name: settings }, data: { level: '{{ vars.level }}' } } } } }",
        "      - { name: reapply, kube: { apply: { object: { apiVersion: v1, kind: ConfigMap, metadata: { name: settings }, data: { level: '{{ vars.level }}' } } } } }",
        "      - { name: cm, kube: { get: configmap/settings } }",
        "      - { name: remove, when: 'steps.cm.data.object.data.level == \"5\"', kube: { delete: cm/settings } }",
      ],
    );
    expect(stderr).toBe("");
    expect(code).toBe(0);
    for (const target of ["a-cert", "b-token"]) {
      expect(stepsOf(steps, target)).toEqual([
        ["restart", "changed", null],
        ["rolled", "ok", null],
        ["scale", "changed", null],
        ["scale-again", "ok", null],
        ["ready", "ok", null],
        ["label", "changed", null],
        ["create", "changed", null],
        ["reapply", "ok", null],
        ["cm", "ok", null],
        ["remove", "changed", null],
      ]);
    }
    const describe = steps.filter((s) => s.target === "a-cert").map((s) => s.description);
    expect(describe[0]).toBe("kube restart deployment/api -n team-a @a-cert");
    expect(describe[2]).toBe("kube scale deployments.apps/api --replicas=3 -n team-a @a-cert");
    for (const [ns, region] of [["team-a", "a"], ["team-b", "b"]] as const) {
      const stored = server.get("apps", "v1", "deployments", ns, "api");
      expect(stored.spec.replicas).toBe(3);
      expect(stored.metadata.labels.owner).toBe(`team-${region}`);
      expect(stored.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(server.get("", "v1", "configmaps", ns, "settings")).toBeUndefined();
    }
    // The certificate's CN for team-a's requests, the token's user for team-b's.
    const users = (ns: string) => [...new Set(sent.filter((r) => r.path.includes(`/namespaces/${ns}/`)).map((r) => r.user))];
    expect(users("team-a")).toEqual(["opskit-admin"]);
    expect(users("team-b")).toEqual(["token:admin"]);
    // The waits watched the object rather than polling it.
    expect(sent.some((r) => r.query.watch === "true" && r.query.fieldSelector === "metadata.name=api")).toBe(true);
    // get's result is the object (for register and CEL), without managedFields.
    const got = steps.find((s) => s.name === "cm")!.result.data.object;
    expect(got).toMatchObject({ kind: "ConfigMap", data: { level: "5" } });
    expect(got.metadata.managedFields).toBeUndefined();
  });

  test("an exec credential plugin runs once for the whole run, told it is not interactive", async () => {
    await rm(pluginRuns, { force: true });
    const { code, steps } = await run(["workflows:", "  w:", "    targets: env=plugin", "    steps:", ...Array.from({ length: 3 }, () => "      - kube: { get: deployment/api }")]);
    expect(code).toBe(0);
    expect(steps.map((s) => s.status)).toEqual(["ok", "ok", "ok"]);
    expect((await readFile(pluginRuns, "utf8")).trim().split("\n")).toEqual(["run"]);
    expect(JSON.parse(await readFile(join(dir, "exec-info"), "utf8"))).toEqual({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", spec: { interactive: false } });
  });
});

describe("strategies and resume", () => {
  test("a rolling run across contexts stops at its failure budget; resumed, it goes on with each target's own context", async () => {
    const first = await run(["workflows:", "  w:", "    targets: fleet=eu", "    strategy: { rolling: { batch: 1, maxFailures: 0 } }", "    steps:", "      - kube: { restart: deployment/api }"]);
    expect(first.code).toBe(2);
    expect(first.steps.map((s) => [s.target, s.status, s.result.error?.code ?? null])).toEqual([
      ["eu-1", "changed", null],
      ["eu-2", "failed", "E_KUBE_NOT_FOUND"],
    ]);
    const error = first.steps[1]!.result.error;
    expect(error.message).toContain('deployments.apps "api" in namespace team-c (context "eu-2")');
    expect(error.message).toContain("404 NotFound");
    expect(error.hint).toContain("namespace");
    const finished = first.events.find((e) => e.type === "run.finished")!;
    expect(finished.counts).toMatchObject({ changed: 1, failed: 1, notStarted: 1 });
    expect(writes(first.sent).map((r) => r.path)).toEqual(["/apis/apps/v1/namespaces/team-a/deployments/api"]);

    server.seed(deployment("team-c"));
    const runId = first.events.find((e) => e.type === "run.started")!.runId as string;
    const resumed = await run([], [], { command: ["runs", "resume", runId, "--journal", join(dir, "journal.db"), "--json"] });
    expect(resumed.code).toBe(0);
    expect(resumed.steps.map((s) => [s.target, s.status])).toEqual([
      ["eu-2", "changed"],
      ["eu-3", "changed"],
    ]);
    // Each resumed target talked to its own context: team-c with the token, team-b with the token.
    expect(writes(resumed.sent).map((r) => [r.path, r.user])).toEqual([
      ["/apis/apps/v1/namespaces/team-c/deployments/api", "token:admin"],
      ["/apis/apps/v1/namespaces/team-b/deployments/api", "token:admin"],
    ]);
  });

  test("kubeconfig targets are never dialed over SSH: local commands run, a host step fails naming the context", async () => {
    const local = await run(["workflows:", "  w:", "    targets: env=prod", "    steps:", "      - exec: 'true'", "      - kube: { get: deployment/api }"]);
    expect(local.code).toBe(0);
    const ssh = await run(["workflows:", "  w:", "    targets: name=a-cert", "    steps:", "      - ssh: uptime"]);
    expect(ssh.code).not.toBe(0);
    expect(ssh.steps[0]!.result.error.code).toBe("E_KUBE_TARGET_HOST");
    expect(ssh.steps[0]!.result.error.message).toContain('Kubernetes context "a-cert"');
  });
});

test("on the local target, a step names its kubeconfig and context, else kubectl's default ($KUBECONFIG and its current-context)", async () => {
  const named = await run(["workflows:", "  w:", "    steps:", `      - kube: { get: deployment/api, kubeconfig: ${kubeconfig}, context: b-token }`]);
  expect(named.code).toBe(0);
  expect(named.steps[0]!.description).toBe("kube get deployment/api @b-token");
  expect(named.sent.filter((r) => !isDiscoveryRequest(r)).map((r) => [r.path, r.user])).toEqual([["/apis/apps/v1/namespaces/team-b/deployments/api", "token:admin"]]);
  const file = join(dir, "local.yaml");
  await writeFile(file, ["workflows:", "  w:", "    steps:", "      - kube: { get: deployment/api }", ""].join("\n"));
  const from = server.requests.length;
  // A KUBECONFIG list as kubectl takes it: a file that does not exist is skipped.
  const result = await runOpskit(["run", "--journal", join(dir, "journal.db"), "-c", file, "w", "--json"], { cwd: dir, env: { KUBECONFIG: `${join(dir, "absent")}:${kubeconfig}` } });
  expect(result.code).toBe(0);
  expect(server.requests.slice(from).filter((r) => !isDiscoveryRequest(r)).map((r) => [r.path, r.user])).toEqual([["/apis/apps/v1/namespaces/team-a/deployments/api", "opskit-admin"]]);
});

describe("failures say what they mean", () => {
  test("404 for a missing object, 403 for a user who may only read, 409 for fields another manager owns (until force)", async () => {
    const missing = await run(["workflows:", "  w:", "    targets: name=a-cert", "    steps:", "      - kube: { get: deployment/nope }"]);
    expect(missing.code).toBe(2);
    expect(missing.steps[0]!.result.error).toMatchObject({ code: "E_KUBE_NOT_FOUND", message: expect.stringContaining('deployments.apps "nope" in namespace team-a') });

    const before = server.get("apps", "v1", "deployments", "team-a", "api");
    const forbidden = await run(["workflows:", "  w:", "    targets: name=viewer", "    steps:", "      - kube: { restart: deployment/api }"]);
    expect(forbidden.code).toBe(2);
    expect(forbidden.steps[0]!.result.error.code).toBe("E_KUBE_FORBIDDEN");
    expect(forbidden.steps[0]!.result.error.message).toContain("403 Forbidden");
    expect(forbidden.steps[0]!.result.error.hint).toContain("RBAC");
    const after = server.get("apps", "v1", "deployments", "team-a", "api");
    expect([after.metadata.generation, after.spec.template]).toEqual([before.metadata.generation, before.spec.template]);

    // kubectl owns data.level; opskit applying another value conflicts, and takes it over with force.
    const kubectl = kubectlBinaries().binaries[0]!;
    const manifest = join(dir, "owned.yaml");
    await writeFile(manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: owned, namespace: team-a }\ndata: { level: '1' }\n");
    const config = await server.kubeconfig(dir, { auth: "cert" });
    expect((await runKubectl(kubectl.path, ["apply", "--server-side", "-f", manifest], { kubeconfig: config })).code).toBe(0);
    const apply = (force: boolean) => ["workflows:", "  w:", "    targets: name=a-cert", "    steps:", `      - kube: { apply: { object: { apiVersion: v1, kind: ConfigMap, metadata: { name: owned }, data: { level: '2' } }, force: ${force} } }`];
    const conflict = await run(apply(false));
    expect(conflict.code).toBe(2);
    expect(conflict.steps[0]!.result.error).toMatchObject({ code: "E_KUBE_CONFLICT", hint: expect.stringContaining("force: true") });
    expect(server.get("", "v1", "configmaps", "team-a", "owned").data.level).toBe("1");
    const forced = await run(apply(true));
    expect(forced.code).toBe(0);
    expect(forced.steps[0]!.status).toBe("changed");
    expect(server.get("", "v1", "configmaps", "team-a", "owned").data.level).toBe("2");
  });
});

describe("permissions and the org policy", () => {
  test("permissions.kube allows restart deployment/* (however the step spells the type) and denies scale before any write", async () => {
    const { code, steps, sent } = await run([
      "workflows:",
      "  w:",
      "    targets: name=a-cert",
      "    permissions: { hosts: env=prod, kube: ['restart deployment/*', 'get *'] }",
      "    steps:",
      "      - { kube: { restart: deploy/api }, continueOnError: true }",
      "      - { kube: { scale: { deployment/api: 1 } }, continueOnError: true }",
      "      - kube: { get: deployments.apps/api }",
    ]);
    // The denied step continues on error: the run goes on to the get.
    expect(code).toBe(0);
    expect(steps.map((s) => [s.status, s.result.error?.code ?? null])).toEqual([
      ["changed", null],
      ["failed", "E_POLICY_DENIED"],
      ["ok", null],
    ]);
    expect(steps[1]!.result.error.message).toContain('kube operation "scale team-a/deployment/api @a-cert" is not in permissions.kube');
    expect(steps[1]!.result.data.denial).toMatchObject({ kind: "kube", by: "workflow", rule: "permissions.kube" });
    expect(sent.some((r) => r.path.endsWith("/scale"))).toBe(false);
    expect(server.get("apps", "v1", "deployments", "team-a", "api").spec.replicas).toBe(3);
  });

  test("the policy's deny.kube wins over a workflow's permissions, by namespace", async () => {
    const policy = join(dir, "policy.yaml");
    await writeFile(policy, "deny:\n  kube: ['restart team-b/*', 'delete *']\n");
    const { code, steps, sent } = await run(
      ["workflows:", "  w:", "    targets: env=prod", "    permissions: { hosts: env=prod, kube: ['restart *'] }", "    steps:", "      - kube: { restart: deployment/api }"],
      ["--policy", policy],
    );
    expect(code).toBe(2);
    // Restarted within the second of an earlier restart, the annotation is already that time: ok rather than changed.
    expect(stepsOf(steps, "a-cert")).toEqual([[expect.any(String), expect.stringMatching(/^(changed|ok)$/), null]]);
    expect(stepsOf(steps, "b-token")).toEqual([[expect.any(String), "failed", "E_POLICY_DENIED"]]);
    expect(steps.find((s) => s.target === "b-token")!.result.error.message).toContain("deny.kube 'restart team-b/*'");
    expect(writes(sent).map((r) => r.path)).toEqual(["/apis/apps/v1/namespaces/team-a/deployments/api"]);
  });
});

test("--dry-run renders each context's steps and sends nothing", async () => {
  const from = server.requests.length;
  const { code, events } = await run(["workflows:", "  w:", "    targets: env=prod", "    steps:", "      - kube: { restart: deployment/api }", "      - kube: { scale: { deployment/api: 4 }, namespace: other }"], ["--dry-run"]);
  expect(code).toBe(0);
  expect(events.filter((e) => e.type === "plan.step").map((e) => [e.target, e.description])).toEqual([
    ["a-cert", "kube restart deployment/api -n team-a @a-cert"],
    ["a-cert", "kube scale deployment/api --replicas=4 -n other @a-cert"],
    ["b-token", "kube restart deployment/api -n team-b @b-token"],
    ["b-token", "kube scale deployment/api --replicas=4 -n other @b-token"],
  ]);
  expect(server.requests.length).toBe(from);
});

describe("the same operation's requests as kubectl's", () => {
  /** What opskit sent for one kube step on the `kubectl` context (namespace team-k), discovery aside. */
  const opskit = async (step: string) => {
    const result = await run(["workflows:", "  w:", "    targets: name=kubectl", "    steps:", `      - kube: ${step}`]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    return result.sent.filter((r) => !isDiscoveryRequest(r));
  };
  /** Method, path, content type and body, the restart time replaced by its shape. */
  const shape = (requests: RecordedRequest[]) =>
    requests.map((r) => ({
      method: r.method,
      path: r.path,
      contentType: r.contentType ?? null,
      body: JSON.parse(JSON.stringify(r.body ?? null).replace(/"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"/g, '"<RFC 3339>"')),
    }));
  const settings = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "team-k" }, data: { level: "1" } };
  const cases: [string, string[], string, (requests: RecordedRequest[]) => RecordedRequest[]][] = [
    ["rollout restart", ["rollout", "restart", "deployment/api"], "{ restart: deployment/api }", (r) => r],
    ["scale", ["scale", "deployment/api", "--replicas=3"], "{ scale: { deployment/api: 3 } }", (r) => r],
    ["patch (strategic)", ["patch", "deployment", "api", "-p", '{"metadata":{"labels":{"tier":"web"}}}'], "{ patch: { object: deployment/api, body: { metadata: { labels: { tier: web } } } } }", (r) => r],
    ["patch --type merge", ["patch", "deployment", "api", "--type", "merge", "-p", '{"metadata":{"labels":{"tier":"api"}}}'], "{ patch: { object: deployment/api, type: merge, body: { metadata: { labels: { tier: api } } } } }", (r) => r],
    ["patch --type json", ["patch", "deployment", "api", "--type", "json", "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]'], "{ patch: { object: deployment/api, type: json, body: [{ op: replace, path: /spec/replicas, value: 2 }] } }", (r) => r],
    // opskit reads the object first to know whether the apply changed it; the apply itself is kubectl's.
    ["apply --server-side", ["apply", "--server-side", "-f", "-"], "{ apply: { object: { apiVersion: v1, kind: ConfigMap, metadata: { name: settings }, data: { level: '1' } } } }", (r) => r.filter((q) => q.method === "PATCH")],
    // kubectl then polls until the object is gone (--wait); the deletion itself is the same.
    ["delete", ["delete", "configmap", "settings"], "{ delete: configmap/settings }", (r) => r.filter((q) => q.method === "DELETE")],
  ];
  // Both kubectl versions the API server is held to: the machine's 1.32 and Debian's 1.20 (sh scripts/setup.sh).
  const { binaries, missing } = kubectlBinaries();
  test("both kubectl versions are installed", () => expect(missing).toEqual([]));
  for (const binary of binaries) {
    for (const [name, args, step, pick] of cases) {
      test(`${name} (${binary.label}): method, path, content type and body`, async () => {
        const stdin = name.startsWith("apply") ? "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { level: '1' }\n" : undefined;
        const theirs = await kubectlRequests(server, ["-n", "team-k", ...args], { binary: binary.path, namespace: "team-k", ...(stdin ? { stdin } : {}) });
        // kubectl deleted it: the same object again for opskit to delete.
        if (name === "delete") server.seed(settings);
        const ours = await opskit(step);
        expect(shape(pick(ours))).toEqual(shape(pick(theirs)));
        if (name.startsWith("apply")) {
          // Server-side apply's options too, but for the field manager, which names opskit (kubectl 1.20 predates fieldValidation).
          const [q1, q2] = [pick(ours)[0]!.query, pick(theirs)[0]!.query];
          const without = ({ fieldManager: _, fieldValidation: __, ...rest }: Record<string, string>) => rest;
          expect(without(q1)).toEqual(without(q2));
          if (q2.fieldValidation) expect(q1.fieldValidation).toBe(q2.fieldValidation);
          expect(q1.fieldManager).toBe("opskit");
        }
      });
    }
  }
});

test("hostile object names from --var travel as one encoded path segment, or are refused before any request", async () => {
  const names = [...hostileValues.map((v) => v.value), "../../api", "a?b=c", "%2e%2e", "..", "x/../../../api/v1/namespaces/kube-system/secrets/token"];
  const { steps, sent } = await run(
    ["workflows:", "  w:", "    targets: name=hostile", "    steps:", ...names.map((_, i) => `      - { kube: { get: 'deployment/{{ vars.n${i} }}' }, continueOnError: true }`)],
    // As JSON text, so that what argv cannot carry (a lone surrogate) still arrives.
    names.flatMap((name, i) => ["--var-json", `n${i}=${JSON.stringify(name)}`]),
  );
  expect(steps.length).toBe(names.length);
  const prefix = "/apis/apps/v1/namespaces/team-h/deployments/";
  const objectRequests = sent.filter((r) => !isDiscoveryRequest(r));
  for (const [i, step] of steps.entries()) {
    const code = step.result.error?.code;
    expect([names[i], code]).toEqual([names[i], expect.stringMatching(/^E_KUBE_(NAME|NOT_FOUND|TOO_LONG)$/)]);
    if (code === "E_KUBE_NAME") expect(/^$|^\.\.?$|[/%]|[\uD800-\uDFFF]/u.test(names[i]!)).toBe(true);
    // The loopback server's HTTP parser refuses a request line past 16 KiB before the harness sees it.
    if (code === "E_KUBE_TOO_LONG") expect(names[i]!.length).toBeGreaterThan(5000);
  }
  // Every request that was sent is one segment under team-h's deployments, and it decodes to a name a step asked for.
  for (const request of objectRequests) {
    expect(request.path.startsWith(prefix)).toBe(true);
    const segment = request.path.slice(prefix.length);
    expect(segment.includes("/")).toBe(false);
    expect(names).toContain(decodeURIComponent(segment));
    expect(request.query).toEqual({});
  }
  expect(objectRequests.length).toBe(steps.filter((s) => s.result.error?.code === "E_KUBE_NOT_FOUND").length);
  expect(objectRequests.some((r) => r.path === `${prefix}a%3Fb%3Dc`)).toBe(true);
});

describe("examples/kubernetes", () => {
  test("validates as shipped (its kubeconfig's contexts are its targets)", async () => {
    const run = await runOpskit(["validate", "-c", "examples/kubernetes"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^ok: 2 hosts, 2 workflows, 1 rule, 0 checks /);
  });

  test("its rule restarts the alert's Deployment in the alert's cluster only, under opskit serve", async () => {
    // The example as shipped, beside a kubeconfig of the same contexts that points at the test server.
    const home = await mkdtemp(join(dir, "example-"));
    await writeFile(join(home, "opskit.yaml"), await readFile(join(repoRoot, "examples/kubernetes/opskit.yaml"), "utf8"));
    await writeFile(
      join(home, "kubeconfig"),
      toYaml({
        clusters: [{ name: "loopback", cluster: { server: server.url, "certificate-authority": server.caFile } }],
        users: [{ name: "admin", user: { "client-certificate": server.clientCertFile, "client-key": server.clientKeyFile } }],
        contexts: ["eu", "us"].map((region) => ({ name: `prod-${region}`, context: { cluster: "loopback", user: "admin", namespace: `shop-${region}`, extensions: [{ name: "opskit", extension: { labels: { platform: "k8s", region } } }] } })),
      }),
    );
    const before = (ns: string) => server.get("apps", "v1", "deployments", ns, "api").spec.template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"];
    const [eu, us] = [before("shop-eu"), before("shop-us")];
    let serve: ServeProcess | undefined;
    try {
      serve = await startServe(home);
      const alert = { alertname: "KubeDeploymentReplicasMismatch", cluster: "prod-us", deployment: "api", namespace: "shop-us" };
      expect((await serve.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: alert }]))).status).toBeLessThan(300);
      const view = await serve.waitFor("/api/v1/incidents/1", (v) => v.attempts?.[0]?.status === "succeeded" && v, 60_000);
      expect(view.attempts).toHaveLength(1);
    } finally {
      await serve?.stop();
    }
    expect(before("shop-us")).not.toBe(us);
    expect(before("shop-us")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(before("shop-eu")).toBe(eu);
    const rolled = server.get("apps", "v1", "deployments", "shop-us", "api");
    expect([rolled.status.observedGeneration, rolled.status.updatedReplicas, rolled.status.availableReplicas]).toEqual([rolled.metadata.generation, 2, 2]);
  });
});
