// Kubernetes: kubeconfig files read as kubectl reads them (merged KUBECONFIG
// lists, files relative to their kubeconfig, exec credential plugins with
// cached expiry) and a thin API client over Bun's fetch with discovery.
// Importing it is cheap: nothing is read or run until a client is made.
export { kubeClient, KubeStatusError, statusMessage, type ClientOptions, type KubeClient, type KubeRequest, type WatchEvent } from "./client.ts";
export { clearExecCache } from "./credentials.ts";
export { pathOf, pathSegment, type KubeResource, type ResourceRef, type Timing } from "./discovery.ts";
export { defaultKubeconfig, parseKubeconfig, mergeKubeconfigs, readKubeconfig, type Kubeconfig, type KubeconfigContext, type ReadOptions } from "./kubeconfig.ts";

/** What a target made from a kubeconfig context carries: where its kubeconfig is and which context it is. */
export interface KubeTargetRef {
  /** Absolute path (or a KUBECONFIG-style list of them). */
  kubeconfig: string;
  context: string;
  /** The context's namespace, when it names one. */
  namespace?: string;
}
