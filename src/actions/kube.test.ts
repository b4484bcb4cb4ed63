import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compileTemplate } from "../expr/index.ts";
import { OpsError } from "../errors.ts";
import { kubeAction, type KubeRendered } from "./kube.ts";
import { objectChanged } from "./kube-objects.ts";
import { KubeStatusError, type KubeClient } from "../transport/kube/index.ts";
import type { Place } from "./kube-objects.ts";
import { escapeFieldValue, rolloutState, waitForObject } from "./kube-wait.ts";
import { scopeVariables } from "./variables.ts";

// The kube action's rendering and judgements without a server: what a step
// renders to for a target, what it refuses before any request, and the
// rollout and change rules (the verbs themselves run against the test API
// server in test/kube-action.test.ts).

const target = { name: "prod-eu", kube: { kubeconfig: "/k/config", context: "prod-eu", namespace: "shop" } };

async function render(spec: Record<string, unknown>, variables: Record<string, unknown> = {}): Promise<KubeRendered> {
  const renderer = await kubeAction.compile({ force: false, ignoreNotFound: false, ...spec } as never, {
    where: "workflows.w.steps[0]",
    baseDir: "/cfg",
    variables: scopeVariables,
    compileTemplate: (source, where, escape) => compileTemplate(source, where, scopeVariables, escape),
  });
  return renderer({ vars: {}, target, env: {}, steps: {}, ...variables });
}

const refusal = async (spec: Record<string, unknown>, variables: Record<string, unknown> = {}) => {
  const error = await render(spec, variables).catch((e) => e);
  expect(error).toBeInstanceOf(OpsError);
  return error as OpsError;
};

describe("rendering", () => {
  test("a step runs on its target's context and namespace unless it names its own", async () => {
    const restart = await render({ restart: "deployment/{{ vars.app }}" }, { vars: { app: "api" } });
    expect(restart).toMatchObject({ verb: "restart", object: { type: "deployment", name: "api" }, kubeconfig: "/k/config", context: "prod-eu", namespace: "shop" });
    expect(kubeAction.describe(restart)).toBe("kube restart deployment/api -n shop @prod-eu");
    expect(kubeAction.describe(await render({ scale: { "deploy/api": "{{ 2 + 3 }}" }, namespace: "web" }))).toBe("kube scale deploy/api --replicas=5 -n web @prod-eu");
    // Another context of the same kubeconfig: not the target's namespace.
    expect(await render({ get: "cm/x", context: "staging" })).toMatchObject({ kubeconfig: "/k/config", context: "staging" });
    expect((await render({ get: "cm/x", context: "staging" })).namespace).toBeUndefined();
    // A kubeconfig of the step's own, relative to the config: its current-context.
    const own = await render({ get: "cm/x", kubeconfig: "kube/config" }, { target: { name: "local" } });
    expect([own.kubeconfig, own.context]).toEqual(["/cfg/kube/config", undefined]);
    // A local target without either: kubectl's default ($KUBECONFIG, ~/.kube/config).
    expect(await render({ get: "cm/x" }, { target: { name: "local" } })).not.toHaveProperty("kubeconfig");
  });

  test("patch and apply bodies keep their shape; their strings are templates that render to data", async () => {
    const patch = await render({ patch: { object: "deployment/api", type: "merge", body: { metadata: { labels: { owner: "{{ vars.owner }}" } }, spec: { replicas: 3 } } } }, { vars: { owner: '"}, "spec": {"replicas": 0' } });
    expect(patch.patch).toEqual({ type: "merge", body: { metadata: { labels: { owner: '"}, "spec": {"replicas": 0' } }, spec: { replicas: 3 } } });
    const json = await render({ patch: { object: "deployment/api", type: "json", body: [{ op: "replace", path: "/spec/replicas", value: 2 }] } });
    expect(json.patch!.body).toEqual([{ op: "replace", path: "/spec/replicas", value: 2 }]);
    const apply = await render({ apply: { object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "{{ target.name }}" } } } });
    expect(kubeAction.describe(apply)).toBe("kube apply configmap/prod-eu -n shop @prod-eu");
  });

  test("what cannot be one object is refused when the step renders, before any request", async () => {
    for (const name of ["../../api", "%2e%2e", "..", ".", "", "a/b", "\uD800"]) {
      const error = await refusal({ get: "deployment/{{ vars.name }}" }, { vars: { name } });
      expect([name, error.code]).toEqual([name, "E_KUBE_NAME"]);
      expect(error.message).toContain("workflows.w.steps[0].kube.get");
    }
    expect((await refusal({ get: "cm/x", namespace: "{{ vars.ns }}" }, { vars: { ns: "../kube-system" } })).code).toBe("E_KUBE_NAME");
    expect((await refusal({ restart: "{{ vars.x }}" }, { vars: { x: "api" } })).code).toBe("E_KUBE_SPEC");
    expect((await refusal({ scale: { "deployment/api": "{{ vars.n }}" } }, { vars: { n: "3; rm -rf /" } })).code).toBe("E_KUBE_SPEC");
    expect((await render({ scale: { "deployment/api": 1, "deployment/web": 2 } }).catch((e) => e)).code).toBe("E_KUBE_SPEC");
    expect((await render({ patch: { object: "deployment/api", type: "json", body: { spec: {} } } }).catch((e) => e)).code).toBe("E_KUBE_SPEC");
  });

  test("property: a rendered name is refused or kept exactly as it rendered", async () => {
    const renderer = await kubeAction.compile({ get: "deployment/{{ vars.name }}", force: false, ignoreNotFound: false } as never, {
      where: "w",
      baseDir: "/",
      variables: scopeVariables,
      compileTemplate: (source, where, escape) => compileTemplate(source, where, scopeVariables, escape),
    });
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (name) => {
        try {
          return renderer({ vars: { name }, target, env: {}, steps: {} }).object!.name === name;
        } catch (error) {
          return (error as OpsError).code === "E_KUBE_NAME";
        }
      }),
    );
  });
});

describe("judgements", () => {
  const deployment = (status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ kind: "Deployment", metadata: { generation: 4 }, spec: { replicas: 3 }, status: { observedGeneration: 4, ...status }, ...extra });

  test("rolloutComplete is kubectl rollout status's judgement, zero-valued fields read as absent", () => {
    expect(rolloutState(deployment({ updatedReplicas: 3, replicas: 3, availableReplicas: 3 }))).toEqual({ done: true });
    expect(rolloutState(deployment({ observedGeneration: 3, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }))).toMatchObject({ done: false, why: expect.stringContaining("not yet observed") });
    expect(rolloutState(deployment({ updatedReplicas: 1, replicas: 4, availableReplicas: 3 }))).toMatchObject({ done: false, why: "1 of 3 replicas updated" });
    expect(rolloutState(deployment({ updatedReplicas: 3, replicas: 4, availableReplicas: 3 }))).toMatchObject({ done: false, why: "1 old replicas pending termination" });
    expect(rolloutState(deployment({ updatedReplicas: 3, replicas: 3 }))).toMatchObject({ done: false, why: "0 of 3 updated replicas available" });
    const stuck = deployment({ conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: 'ReplicaSet "api-1" has timed out progressing.' }] });
    expect(rolloutState(stuck)).toMatchObject({ done: false, failed: true });
    expect(rolloutState({ kind: "DaemonSet", metadata: { generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 } })).toEqual({ done: true });
    expect(rolloutState({ kind: "StatefulSet", metadata: { generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, readyReplicas: 2, currentRevision: "a", updateRevision: "b" } })).toMatchObject({ done: false });
    expect(() => rolloutState({ kind: "ConfigMap" })).toThrow("rolloutComplete judges");
  });

  test("changed means the server changed more than the object's status", () => {
    const before = { kind: "ConfigMap", metadata: { name: "x", resourceVersion: "1" }, data: { a: "1" } };
    expect(objectChanged(before, { ...before })).toBe(false);
    expect(objectChanged(before, { ...before, metadata: { name: "x", resourceVersion: "2" }, data: { a: "2" } })).toBe(true);
    expect(objectChanged({ ...before, status: { n: 1 } }, { ...before, metadata: { name: "x", resourceVersion: "3" }, status: { n: 2 } })).toBe(false);
    expect(objectChanged(undefined, before)).toBe(true);
  });

  test("a field selector's value is escaped as the apiserver reads it", () => {
    expect(escapeFieldValue("api")).toBe("api");
    expect(escapeFieldValue("a,metadata.namespace=kube-system")).toBe("a\\,metadata.namespace\\=kube-system");
    expect(escapeFieldValue("a\\b")).toBe("a\\\\b");
  });
});

describe("waiting", () => {
  /** A client whose object's readyReplicas grows by one a read, and whose server cannot watch (405). */
  function polledPlace(): { place: Place; watches: number[] } {
    let ready = 0;
    const watches: number[] = [];
    const client = {
      context: { name: "c", cluster: "c", user: "u", server: "https://x", extensions: {} },
      async request() {
        return { status: 200, body: { kind: "Deployment", metadata: { name: "api", resourceVersion: String(++ready), generation: 1 }, spec: { replicas: 3 }, status: { observedGeneration: 1, readyReplicas: ready } } };
      },
      async watch() {
        watches.push(ready);
        throw new KubeStatusError(405, { kind: "Status", code: 405 }, "watch is not allowed");
      },
    } as unknown as KubeClient;
    const resource = { group: "apps", version: "v1", resource: "deployments", kind: "Deployment", singular: "deployment", namespaced: true, shortNames: [], subresources: [] };
    return { place: { client, resource, namespace: "default", name: "api", path: "/apis/apps/v1/namespaces/default/deployments/api", shown: "deployments.apps \"api\"" }, watches };
  }

  test("a server that cannot watch is polled every interval until the condition holds", async () => {
    const { place, watches } = polledPlace();
    const until = await (await import("../expr/index.ts")).compileExpression("object.status.readyReplicas == 3", "w", ["object"]);
    const context = { signal: new AbortController().signal } as never;
    const result = await waitForObject(place, { until, rolloutComplete: false, intervalMs: 10, scope: {} }, performance.now() + 5000, context, performance.now());
    expect(result.ok).toBe(true);
    expect(result.data).toMatchObject({ reads: 3, events: 0 });
    // Watched once, then polled.
    expect(watches).toEqual([1]);
  });

  test("the deadline ends a wait with why the condition does not hold", async () => {
    const { place } = polledPlace();
    const until = await (await import("../expr/index.ts")).compileExpression("object.status.readyReplicas == 99", "w", ["object"]);
    const result = await waitForObject(place, { until, rolloutComplete: false, intervalMs: 20, scope: {} }, performance.now() + 200, { signal: new AbortController().signal } as never, performance.now());
    expect(result.ok).toBe(false);
    expect(result.error).toMatchObject({ code: "E_KUBE_WAIT_TIMEOUT", message: expect.stringContaining("object.status.readyReplicas == 99 was false") });
  });
});
