/**
 * Real kubectl (the machine's 1.32 and Debian's 1.20) against the test API
 * server, with client-certificate and bearer-token kubeconfigs: get, rollout
 * restart, scale, rollout status (finishing and timing out), server-side
 * apply of a ConfigMap and of a Karmada PropagationPolicy, delete, and 409 on
 * a stale replace. Requests are asserted as the server recorded them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKubeApiServer, type KubeApiServer, type RecordedRequest } from "./harness/kube-apiserver.ts";
import { isDiscoveryRequest, kubectlBinaries, kubectlRequests, runKubectl } from "./harness/kubectl.ts";

/** Resolves once the clock is past the second of the Deployment's last restartedAt (kubectl's restart is refused within it). */
async function afterLastRestart(server: KubeApiServer): Promise<void> {
  const last = server.get("apps", "v1", "deployments", "default", "api")?.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"];
  if (typeof last !== "string") return;
  const next = Math.floor(Date.parse(last) / 1000) * 1000 + 1000;
  while (Date.now() < next) await Bun.sleep(Math.max(10, next - Date.now()));
}

const { binaries, missing } = kubectlBinaries();

test("both kubectl versions are present (missing is a failure in CI)", () => {
  if (missing.length && process.env.CI !== "true") {
    console.warn(`kubectl not found, its tests are skipped: ${missing.join("; ")}`);
    return;
  }
  expect(missing).toEqual([]);
});

const OLD_RESTART = "2020-01-01T00:00:00Z";

function apiDeployment(replicas = 3) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "api", namespace: "default", labels: { app: "api" } },
    spec: {
      replicas,
      selector: { matchLabels: { app: "api" } },
      template: {
        metadata: { labels: { app: "api" }, annotations: { "kubectl.kubernetes.io/restartedAt": OLD_RESTART } },
        spec: { containers: [{ name: "app", image: "registry.example/api:1.4.2" }] },
      },
    },
  };
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/;

async function waitFor<T>(what: string, read: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

const rolledOut = (server: KubeApiServer, replicas: number) => () => {
  const d = server.get("apps", "v1", "deployments", "default", "api");
  const s = d?.status ?? {};
  return s.observedGeneration === d?.metadata.generation && s.updatedReplicas === replicas && s.replicas === replicas && s.availableReplicas === replicas ? d : undefined;
};

for (const binary of binaries) {
  for (const auth of ["cert", "token"] as const) {
    describe(`${binary.label} (${binary.version}) with ${auth === "cert" ? "a client certificate" : "a bearer token"}`, () => {
      let server: KubeApiServer;
      let dir: string;
      let kubeconfig: string;
      const kubectl = (args: string[], stdin?: string) => runKubectl(binary.path, args, { kubeconfig, ...(stdin !== undefined ? { stdin } : {}) });
      const user = auth === "cert" ? "opskit-admin" : "token:admin";
      /** The requests of the last kubectl run other than discovery. */
      let sent: RecordedRequest[] = [];
      const run = async (args: string[], stdin?: string) => {
        const from = server.requests.length;
        const result = await kubectl(args, stdin);
        sent = server.requests.slice(from).filter((r) => !isDiscoveryRequest(r));
        return result;
      };

      beforeAll(async () => {
        server = await startKubeApiServer({ rolloutStepMs: 100, objects: [apiDeployment(3)] });
        dir = await mkdtemp(join(tmpdir(), "opskit-kubectl-test-"));
        kubeconfig = await server.kubeconfig(dir, { auth });
      });
      afterAll(async () => {
        await server?.stop();
        if (dir) await rm(dir, { recursive: true, force: true });
      });

      test("get deployment api -o json returns the stored object, as the authenticated user", async () => {
        const r = await run(["get", "deployment", "api", "-o", "json"]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        const got = JSON.parse(r.stdout);
        const stored = server.get("apps", "v1", "deployments", "default", "api");
        expect(got.metadata.uid).toBe(stored.metadata.uid);
        expect(got.spec.replicas).toBe(3);
        expect(got.status.availableReplicas).toBe(3);
        expect(sent.map((q) => `${q.method} ${q.path}`)).toEqual(["GET /apis/apps/v1/namespaces/default/deployments/api"]);
        expect(server.requests.every((q) => q.user === user)).toBe(true);
        expect(JSON.stringify(server.requests)).not.toContain(server.token);
      });

      test("get deployments prints the server's table", async () => {
        const r = await run(["get", "deployments"]);
        expect(r.code).toBe(0);
        const [header, row] = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/));
        expect(header).toEqual(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
        expect(row?.slice(0, 4)).toEqual(["api", "3/3", "3", "3"]);
        expect(sent[0]?.accept).toContain("as=Table");
      });

      test("rollout restart sends a strategic merge patch of the template's restartedAt annotation and bumps generation", async () => {
        const before = server.get("apps", "v1", "deployments", "default", "api");
        const r = await run(["rollout", "restart", "deployment/api"]);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("deployment.apps/api restarted");
        expect(sent.map((q) => `${q.method} ${q.path}`)).toEqual([
          "GET /apis/apps/v1/namespaces/default/deployments/api",
          "PATCH /apis/apps/v1/namespaces/default/deployments/api",
        ]);
        const patch = sent[1]!;
        expect(patch.contentType).toBe("application/strategic-merge-patch+json");
        expect(patch.query).toEqual({ fieldManager: "kubectl-rollout" });
        const restartedAt = (patch.body as any).spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"];
        expect(patch.body).toEqual({ spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": restartedAt } } } } });
        expect(restartedAt).toMatch(RFC3339);
        const after = server.get("apps", "v1", "deployments", "default", "api");
        expect(after.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]).toBe(restartedAt);
        expect(before.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]).toBe(OLD_RESTART);
        expect(after.metadata.generation).toBe(before.metadata.generation + 1);
        expect(after.metadata.managedFields.some((m: any) => m.manager === "kubectl-rollout" && m.operation === "Update")).toBe(true);
      });

      test("rollout status waits for the restart to progress and exits 0", async () => {
        server.setRolloutStalled("default", "api", true);
        const status = run(["rollout", "status", "deployment/api", "--timeout=60s"]);
        // Let kubectl start watching a rollout that cannot finish yet, then let it go on.
        await waitFor("kubectl's watch", () => server.requests.some((q) => q.query.watch === "true" && q.query.fieldSelector === "metadata.name=api"));
        server.setRolloutStalled("default", "api", false);
        const r = await status;
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain('Waiting for deployment "api" rollout to finish');
        expect(r.stdout).toContain('deployment "api" successfully rolled out');
        const d = rolledOut(server, 3)();
        expect(d).toBeDefined();
        expect(d.status.conditions.find((c: any) => c.type === "Progressing").reason).toBe("NewReplicaSetAvailable");
        expect(d.status.conditions.find((c: any) => c.type === "Available").status).toBe("True");
      });

      test("rollout status of a stuck rollout times out with a non-zero exit", async () => {
        server.setRolloutStalled("default", "api", true);
        try {
          // kubectl refuses a second restart within the second of the last one (restartedAt has second precision).
          await afterLastRestart(server);
          expect((await run(["rollout", "restart", "deployment/api"])).code).toBe(0);
          const r = await run(["rollout", "status", "deployment/api", "--timeout=2s"]);
          expect(r.code).not.toBe(0);
          expect(r.stdout).toContain("new replicas have been updated");
          expect(r.stderr).toContain("timed out waiting for the condition");
        } finally {
          server.setRolloutStalled("default", "api", false);
        }
        await waitFor("the rollout to finish", rolledOut(server, 3));
      });

      test("scale --replicas=5 goes through the scale subresource and the rollout reaches 5 available", async () => {
        const before = server.get("apps", "v1", "deployments", "default", "api");
        const r = await run(["scale", "deployment/api", "--replicas=5"]);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("deployment.apps/api scaled");
        expect(sent.map((q) => `${q.method} ${q.path}`)).toEqual([
          "GET /apis/apps/v1/namespaces/default/deployments/api",
          "PATCH /apis/apps/v1/namespaces/default/deployments/api/scale",
        ]);
        expect(sent[1]!.contentType).toBe("application/merge-patch+json");
        expect(sent[1]!.body).toEqual({ spec: { replicas: 5 } });
        const after = server.get("apps", "v1", "deployments", "default", "api");
        expect(after.spec.replicas).toBe(5);
        expect(after.metadata.generation).toBe(before.metadata.generation + 1);
        const done = await waitFor("5 available replicas", rolledOut(server, 5));
        expect(done.status.readyReplicas).toBe(5);
        const status = await run(["rollout", "status", "deployment/api", "--timeout=60s"]);
        expect(status.code).toBe(0);
      });

      test("apply --server-side of a ConfigMap creates it, then updates it, with field manager kubectl", async () => {
        const file = join(dir, "settings.yaml");
        const manifest = (level: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  level: "${level}"\n  mode: fast\n`;
        await writeFile(file, manifest("1"));
        const r = await run(["apply", "--server-side", "-f", file]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("configmap/settings serverside-applied");
        expect(sent.map((q) => `${q.method} ${q.path} ${q.contentType}`)).toEqual(["PATCH /api/v1/namespaces/default/configmaps/settings application/apply-patch+yaml"]);
        expect(sent[0]!.query.fieldManager).toBe("kubectl");
        expect(sent[0]!.status).toBe(201);
        const created = server.get("", "v1", "configmaps", "default", "settings");
        expect(created.data).toEqual({ level: "1", mode: "fast" });
        expect(created.metadata.managedFields).toEqual([expect.objectContaining({ manager: "kubectl", operation: "Apply", fieldsV1: { "f:data": { "f:level": {}, "f:mode": {} } } })]);
        await writeFile(file, manifest("2"));
        expect((await run(["apply", "--server-side", "-f", file])).code).toBe(0);
        expect(sent[0]!.status).toBe(200);
        const updated = server.get("", "v1", "configmaps", "default", "settings");
        expect(updated.data).toEqual({ level: "2", mode: "fast" });
        expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
      });

      test("apply --server-side of a Karmada PropagationPolicy stores it as sent", async () => {
        const policy = {
          apiVersion: "policy.karmada.io/v1alpha1",
          kind: "PropagationPolicy",
          metadata: { name: "api", namespace: "default" },
          spec: {
            resourceSelectors: [{ apiVersion: "apps/v1", kind: "Deployment", name: "api" }],
            placement: { clusterAffinity: { clusterNames: ["member1", "member2"] }, replicaScheduling: { replicaSchedulingType: "Divided" } },
          },
        };
        const file = join(dir, "policy.json");
        await writeFile(file, JSON.stringify(policy));
        const r = await run(["apply", "--server-side", "-f", file]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("propagationpolicy.policy.karmada.io/api serverside-applied");
        expect(sent.map((q) => `${q.method} ${q.path}`)).toEqual(["PATCH /apis/policy.karmada.io/v1alpha1/namespaces/default/propagationpolicies/api"]);
        const stored = server.get("policy.karmada.io", "v1alpha1", "propagationpolicies", "default", "api");
        expect(stored.spec).toEqual(policy.spec);
        expect(stored.metadata.generation).toBe(1);
        const list = await run(["get", "propagationpolicies", "-o", "name"]);
        expect(list.stdout.trim()).toBe("propagationpolicy.policy.karmada.io/api");
      });

      test("delete removes the ConfigMap and the PropagationPolicy", async () => {
        const r = await run(["delete", "configmap", "settings"]);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain('configmap "settings" deleted');
        expect(sent[0]).toMatchObject({ method: "DELETE", path: "/api/v1/namespaces/default/configmaps/settings", status: 200 });
        expect(server.get("", "v1", "configmaps", "default", "settings")).toBeUndefined();
        expect((await run(["delete", "propagationpolicy", "api"])).code).toBe(0);
        expect(server.get("policy.karmada.io", "v1alpha1", "propagationpolicies", "default", "api")).toBeUndefined();
        const again = await run(["delete", "configmap", "settings"]);
        expect(again.code).not.toBe(0);
        expect(again.stderr).toContain('configmaps "settings" not found');
      });

      test("replace of a stale copy gets 409 Conflict", async () => {
        const old = (await run(["get", "deployment", "api", "-o", "json"])).stdout;
        expect((await run(["scale", "deployment/api", "--replicas=4"])).code).toBe(0);
        const file = join(dir, "old.json");
        await writeFile(file, old);
        const r = await run(["replace", "-f", file]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("the object has been modified; please apply your changes to the latest version and try again");
        const put = sent.find((q) => q.method === "PUT");
        expect(put).toMatchObject({ path: "/apis/apps/v1/namespaces/default/deployments/api", status: 409 });
        expect(server.get("apps", "v1", "deployments", "default", "api").spec.replicas).toBe(4);
      });

      test("a kubeconfig with inline data and several contexts works with --context", async () => {
        const inline = await server.kubeconfig(dir, { auth, inlineData: true, contexts: ["east", "west"], namespace: "default" });
        expect(await Bun.file(inline).text()).toContain("certificate-authority-data:");
        const r = await runKubectl(binary.path, ["--context", "west", "get", "deployment", "api", "-o", "jsonpath={.metadata.name}"], { kubeconfig: inline });
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe("api");
      });

      test("a read-only user is refused writes (403) and a wrong token is 401", async () => {
        const viewer = await server.kubeconfig(dir, { auth: "viewer-token" });
        const read = await runKubectl(binary.path, ["get", "deployment", "api", "-o", "name"], { kubeconfig: viewer });
        expect(read.code).toBe(0);
        const write = await runKubectl(binary.path, ["scale", "deployment/api", "--replicas=1"], { kubeconfig: viewer });
        expect(write.code).not.toBe(0);
        expect(write.stderr).toContain('User "token:viewer" cannot patch resource "deployments/scale" in API group "apps"');
        const bad = join(dir, "bad-token.yaml");
        await writeFile(bad, (await Bun.file(viewer).text()).replace(server.viewerToken, "not-a-token"));
        const denied = await runKubectl(binary.path, ["get", "deployments"], { kubeconfig: bad });
        expect(denied.code).not.toBe(0);
        expect(denied.stderr).toMatch(/Unauthorized|must be logged in/);
        expect(server.get("apps", "v1", "deployments", "default", "api").spec.replicas).toBe(4);
      });
    });
  }
}

describe.skipIf(binaries.length === 0)("kubectlRequests", () => {
  let server: KubeApiServer;
  beforeAll(async () => {
    server = await startKubeApiServer({ rolloutStepMs: 50, objects: [apiDeployment(2)] });
  });
  afterAll(() => server?.stop());

  test("returns what kubectl sent for an operation, without discovery", async () => {
    const sent = await kubectlRequests(server, ["rollout", "restart", "deployment/api"], { binary: binaries[0]!.path });
    expect(sent.map((q) => `${q.method} ${q.path} ${q.contentType ?? ""}`.trim())).toEqual([
      "GET /apis/apps/v1/namespaces/default/deployments/api",
      "PATCH /apis/apps/v1/namespaces/default/deployments/api application/strategic-merge-patch+json",
    ]);
    await expect(kubectlRequests(server, ["get", "deployment", "missing"], { binary: binaries[0]!.path })).rejects.toThrow('deployments.apps "missing" not found');
  });
});

