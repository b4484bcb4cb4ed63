/** The kinds the test API server serves, and the discovery documents that describe them. */

export interface ResourceType {
  group: string;
  version: string;
  /** Plural, as in URLs: "deployments". */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** "status", "scale". */
  subresources: string[];
  /** A custom resource: no strategic merge patch, list items keep apiVersion and kind (as the real server does). */
  custom: boolean;
  /** Whether metadata.generation counts changes outside metadata (and status, when status is a subresource). */
  generation: boolean;
}

/** A custom resource the server is told about (as if its CRD were installed). */
export interface CustomResourceDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular?: string;
  namespaced?: boolean;
  shortNames?: string[];
  /** Serve a status subresource (status is then ignored on the main resource). */
  status?: boolean;
}

export const apiVersionOf = (t: Pick<ResourceType, "group" | "version">) => (t.group ? `${t.group}/${t.version}` : t.version);

const builtIn: ResourceType[] = [
  { group: "", version: "v1", resource: "namespaces", kind: "Namespace", singular: "namespace", namespaced: false, shortNames: ["ns"], categories: [], subresources: ["status"], custom: false, generation: false },
  { group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", singular: "configmap", namespaced: true, shortNames: ["cm"], categories: [], subresources: [], custom: false, generation: false },
  { group: "", version: "v1", resource: "secrets", kind: "Secret", singular: "secret", namespaced: true, shortNames: [], categories: [], subresources: [], custom: false, generation: false },
  { group: "apps", version: "v1", resource: "deployments", kind: "Deployment", singular: "deployment", namespaced: true, shortNames: ["deploy"], categories: ["all"], subresources: ["status", "scale"], custom: false, generation: true },
];

/** Karmada's PropagationPolicy, served unless the caller names its own custom resources. */
export const karmadaPropagationPolicy: CustomResourceDefinition = {
  group: "policy.karmada.io",
  version: "v1alpha1",
  kind: "PropagationPolicy",
  plural: "propagationpolicies",
  shortNames: ["pp"],
};

export class ResourceRegistry {
  readonly types: ResourceType[];

  constructor(custom: CustomResourceDefinition[]) {
    this.types = [
      ...builtIn,
      ...custom.map((c) => ({
        group: c.group,
        version: c.version,
        resource: c.plural,
        kind: c.kind,
        singular: c.singular ?? c.kind.toLowerCase(),
        namespaced: c.namespaced ?? true,
        shortNames: c.shortNames ?? [],
        categories: [],
        subresources: c.status ? ["status"] : [],
        custom: true,
        generation: true,
      })),
    ];
  }

  find(group: string, version: string, resource: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.version === version && t.resource === resource);
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.types.find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
  }

  /** Groups other than the core one, each with its versions, in registration order. */
  groups(): { name: string; versions: string[] }[] {
    const out: { name: string; versions: string[] }[] = [];
    for (const t of this.types) {
      if (!t.group) continue;
      let g = out.find((x) => x.name === t.group);
      if (!g) out.push((g = { name: t.group, versions: [] }));
      if (!g.versions.includes(t.version)) g.versions.push(t.version);
    }
    return out;
  }

  inGroupVersion(group: string, version: string): ResourceType[] {
    return this.types.filter((t) => t.group === group && t.version === version);
  }
}

const verbs = (t: ResourceType) =>
  t.namespaced
    ? ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    : ["create", "delete", "get", "list", "patch", "update", "watch"];

const subresourceVerbs = ["get", "patch", "update"];

// ---- legacy discovery (/api, /apis, /apis/<group>/<version>) ----

export function apiVersions(serverAddress: string) {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

export function apiGroupList(registry: ResourceRegistry) {
  return { kind: "APIGroupList", apiVersion: "v1", groups: registry.groups().map(apiGroupOf) };
}

export function apiGroupOf(g: { name: string; versions: string[] }) {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { kind: "APIGroup", apiVersion: "v1", name: g.name, versions, preferredVersion: versions[0] };
}

export function apiResourceList(registry: ResourceRegistry, group: string, version: string) {
  const resources: Record<string, unknown>[] = [];
  for (const t of registry.inGroupVersion(group, version)) {
    resources.push({
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: verbs(t),
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length ? { categories: t.categories } : {}),
    });
    for (const sub of t.subresources) {
      resources.push({
        name: `${t.resource}/${sub}`,
        singularName: "",
        namespaced: t.namespaced,
        ...(sub === "scale" ? { group: "autoscaling", version: "v1", kind: "Scale" } : { kind: t.kind }),
        verbs: subresourceVerbs,
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: apiVersionOf({ group, version }), resources };
}

// ---- aggregated discovery (apidiscovery.k8s.io), asked for through Accept ----

export function aggregatedDiscovery(registry: ResourceRegistry, core: boolean, apiVersion: "v2" | "v2beta1") {
  const groups = core ? [{ name: "", versions: ["v1"] }] : registry.groups();
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: `apidiscovery.k8s.io/${apiVersion}`,
    metadata: {},
    items: groups.map((g) => ({
      metadata: { name: g.name, creationTimestamp: null },
      versions: g.versions.map((version) => ({
        version,
        freshness: "Current",
        resources: registry.inGroupVersion(g.name, version).map((t) => ({
          resource: t.resource,
          responseKind: { group: t.group, version: t.version, kind: t.kind },
          scope: t.namespaced ? "Namespaced" : "Cluster",
          singularResource: t.singular,
          verbs: verbs(t),
          ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
          ...(t.categories.length ? { categories: t.categories } : {}),
          ...(t.subresources.length
            ? {
                subresources: t.subresources.map((sub) => ({
                  subresource: sub,
                  responseKind: sub === "scale" ? { group: "autoscaling", version: "v1", kind: "Scale" } : { group: t.group, version: t.version, kind: t.kind },
                  verbs: subresourceVerbs,
                })),
              }
            : {}),
        })),
      })),
    })),
  };
}
