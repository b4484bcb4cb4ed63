import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadTestConfig } from "../../test/harness/config.ts";
import { OpsError } from "../errors.ts";
import { resolveInventory, selectTargets } from "./index.ts";

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: eu-1
  cluster: { server: "https://10.0.0.1:6443" }
- name: us-1
  cluster: { server: "https://[fd00::1]" }
users:
- name: admin
  user: { token: t }
contexts:
- name: prod-eu
  context:
    cluster: eu-1
    user: admin
    namespace: shop
    extensions:
    - name: opskit
      extension: { labels: { env: prod, tier: 1 } }
    - name: other
      extension: { anything: true }
- name: prod-us
  context: { cluster: us-1, user: admin }
current-context: prod-eu
`;

describe("kubeconfig inventory source", () => {
  test("each context is a target named after it, with its labels and the kube connection it carries", async () => {
    const { dir, loaded, remove } = await loadTestConfig("inventory:\n  sources:\n    - kubeconfig: kube/config\n      labels: { source: kube }\n", {});
    try {
      await Bun.write(join(dir, "kube", "config"), kubeconfig);
      const targets = await resolveInventory(loaded, { cwd: dir });
      expect(targets.map((t) => [t.name, t.address, t.port, t.labels, t.kube, t.source])).toEqual([
        ["prod-eu", "10.0.0.1", 6443, { source: "kube", context: "prod-eu", cluster: "eu-1", user: "admin", namespace: "shop", env: "prod", tier: "1" }, { kubeconfig: join(dir, "kube", "config"), context: "prod-eu", namespace: "shop" }, "kube/config:12"],
        ["prod-us", "fd00::1", 443, { source: "kube", context: "prod-us", cluster: "us-1", user: "admin" }, { kubeconfig: join(dir, "kube", "config"), context: "prod-us" }, "kube/config:22"],
      ]);
      expect(selectTargets(targets, "env=prod").map((t) => t.name)).toEqual(["prod-eu"]);
      expect(selectTargets(targets, "cluster in (eu-1,us-1),!namespace").map((t) => t.name)).toEqual(["prod-us"]);
    } finally {
      remove();
    }
  });

  test("a broken kubeconfig fails the inventory at its file, line and key", async () => {
    const { dir, loaded, remove } = await loadTestConfig("inventory:\n  sources:\n    - kubeconfig: config\n");
    try {
      await Bun.write(join(dir, "config"), "contexts:\n- name: x\n  context: { cluster: nowhere, user: u }\n  \n");
      const error = (await resolveInventory(loaded, { cwd: dir }).catch((e) => e)) as OpsError;
      expect(error).toBeInstanceOf(OpsError);
      expect(error.message).toMatch(/^config:3:23: context "x" names cluster "nowhere"/);
      await Bun.write(join(dir, "config"), kubeconfig.replace("labels: { env: prod, tier: 1 }", "labels: [env]"));
      const labels = (await resolveInventory(loaded, { cwd: dir }).catch((e) => e)) as OpsError;
      expect(labels.message).toMatch(/^config:\d+:\d+: the opskit extension's labels are not a map/);
    } finally {
      remove();
    }
  });
});
