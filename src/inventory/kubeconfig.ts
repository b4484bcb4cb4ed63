import { configError } from "../errors.ts";
import { mergeKubeconfigs, parseKubeconfig } from "../transport/kube/index.ts";
import type { HostRecord, InventorySource } from "./types.ts";

/*
 * A kubeconfig as an inventory: each context is a target named after it,
 * acted on through the Kubernetes API (the kube action), never over SSH. Its
 * labels say where it points (context, cluster, user, namespace), and a
 * context may add its own under an `opskit` extension:
 *
 *   contexts:
 *   - name: prod-eu
 *     context:
 *       cluster: eu-1
 *       user: admin
 *       extensions:
 *       - name: opskit
 *         extension: { labels: { env: prod, region: eu } }
 */

const hint = "write the opskit extension as { name: opskit, extension: { labels: { KEY: VALUE } } }";

export const kubeconfigSource: InventorySource = {
  kind: "kubeconfig",
  schema: ({ z }) => z.string().describe("a kubeconfig file: each context is a target named after it, with labels context, cluster, user and namespace, and those of its opskit extension ({ labels: {...} })"),
  async load(text, { file, display }) {
    const config = mergeKubeconfigs([parseKubeconfig(text, file, display)], file);
    return [...config.contextEntries.values()].map((context): HostRecord => {
      const server = new URL(context.server);
      const at = context.where(["name"]).replace(/:\d+$/, "");
      return {
        name: context.name,
        address: server.hostname.replace(/^\[|\]$/g, ""),
        port: Number(server.port) || (server.protocol === "http:" ? 80 : 443),
        // Who it acts as: the kubeconfig's user (there is no SSH user).
        user: context.user,
        labels: {
          context: context.name,
          cluster: context.cluster,
          user: context.user,
          ...(context.namespace ? { namespace: context.namespace } : {}),
          ...extensionLabels(context.extensions.opskit, context.where(["context", "extensions"])),
        },
        vars: {},
        groups: [],
        kube: { kubeconfig: file, context: context.name, ...(context.namespace ? { namespace: context.namespace } : {}) },
        source: at,
      };
    });
  },
};

function extensionLabels(extension: unknown, where: string): Record<string, string> {
  if (extension === undefined || extension === null) return {};
  const labels = typeof extension === "object" && !Array.isArray(extension) ? (extension as { labels?: unknown }).labels : undefined;
  if (labels === undefined) return {};
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) throw configError("E_INVENTORY_KUBECONFIG", `${where}: the opskit extension's labels are not a map`, hint);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (value === null || typeof value === "object") throw configError("E_INVENTORY_KUBECONFIG", `${where}: the opskit extension's label ${key} is not text`, hint);
    out[key] = String(value);
  }
  return out;
}
