import type { IIoK8sApimachineryPkgApisMetaV1APIGroupList as APIGroupList } from "@kubernetes-models/apimachinery/apis/meta/v1/APIGroupList";
import type { IIoK8sApimachineryPkgApisMetaV1APIResourceList as APIResourceList } from "@kubernetes-models/apimachinery/apis/meta/v1/APIResourceList";
import type { IIoK8sApimachineryPkgApisMetaV1APIVersions as APIVersions } from "@kubernetes-models/apimachinery/apis/meta/v1/APIVersions";
import { ExitCode, OpsError } from "../../errors.ts";

/*
 * Discovery, as kubectl does it without its disk cache: /api and /apis name
 * the group versions, each group version's resource list names its
 * resources (plural, singular, kind, short names, namespaced, subresources).
 * A type written the way kubectl takes it (deployment, deploy, deployments,
 * deployments.apps, deployments.v1.apps) resolves to one resource; lists
 * are fetched on first need and kept for the client's life.
 */

/** A resource type as the server serves it. */
export interface KubeResource {
  group: string;
  version: string;
  /** The plural, as in the URL: deployments. */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  /** Subresources the server lists for it: status, scale, ... */
  subresources: string[];
}

export interface ResourceRef {
  apiVersion?: string;
  kind?: string;
  /** A type as kubectl takes it: deployment, deploy, deployments.apps, deployments.v1.apps. */
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** The deadline and abort of a call that may need discovery. */
export interface Timing {
  timeoutMs: number;
  signal: AbortSignal;
}

/** GET of a discovery document: its status and JSON body. */
export type DiscoveryGet = (path: string, timing: Timing) => Promise<{ status: number; body: unknown }>;

/**
 * A path segment from a value (a name, a namespace): percent-encoded, so it
 * stays one segment whatever it holds. Names Kubernetes itself refuses as
 * path segments (. and .., anything with / or %) are refused here: a
 * server decodes %2F and %2E before routing, so encoding alone would not keep
 * them one segment.
 */
export function pathSegment(value: string, what: string): string {
  // A lone surrogate has no UTF-8 form to percent-encode (encodeURIComponent would throw).
  if (value === "" || value === "." || value === ".." || value.includes("/") || value.includes("%") || /[\uD800-\uDFFF]/u.test(value)) {
    const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
    throw new OpsError({
      code: "E_KUBE_NAME",
      message: `${what} ${shown} cannot name a Kubernetes object`,
      hint: "a Kubernetes name is not empty, . or .., and holds no / or % (the API server refuses such names too)",
      exitCode: ExitCode.check,
    });
  }
  return encodeURIComponent(value);
}

/** The URL path of a resource (a collection, or an object with a name, and a subresource of it). */
export function pathOf(resource: KubeResource, ref: Pick<ResourceRef, "namespace" | "name" | "subresource">): string {
  const parts = [resource.group ? `/apis/${pathSegment(resource.group, "group")}/${pathSegment(resource.version, "version")}` : `/api/${pathSegment(resource.version, "version")}`];
  // A cluster-scoped resource takes no namespace (kubectl ignores -n for it).
  if (resource.namespaced && ref.namespace !== undefined) parts.push(`/namespaces/${pathSegment(ref.namespace, "namespace")}`);
  parts.push(`/${pathSegment(resource.resource, "resource")}`);
  if (ref.name !== undefined) parts.push(`/${pathSegment(ref.name, "name")}`);
  if (ref.subresource !== undefined) {
    if (ref.name === undefined) throw new OpsError({ code: "E_KUBE_REF", message: `a subresource (${ref.subresource}) needs an object's name`, exitCode: ExitCode.internal });
    parts.push(`/${pathSegment(ref.subresource, "subresource")}`);
  }
  return parts.join("");
}

interface GroupVersion {
  group: string;
  version: string;
}

export class Discovery {
  private groups: Promise<GroupVersion[]> | undefined;
  private allVersions: Promise<Map<string, string[]>> | undefined;
  private readonly lists = new Map<string, Promise<KubeResource[] | undefined>>();

  constructor(
    private readonly get: DiscoveryGet,
    /** Names the cluster in errors: context "prod" (https://...). */
    private readonly where: string,
  ) {}

  /** The resource a reference names: by apiVersion and kind, or by a type as kubectl takes it. */
  async resolve(ref: ResourceRef, timing: Timing): Promise<KubeResource> {
    if (ref.resource !== undefined) return this.resolveType(ref.resource, timing);
    if (ref.apiVersion && ref.kind) return this.resolveKind(ref.apiVersion, ref.kind, timing);
    throw new OpsError({ code: "E_KUBE_REF", message: "a resource reference needs a type, or apiVersion and kind", exitCode: ExitCode.internal });
  }

  async resolveKind(apiVersion: string, kind: string, timing: Timing): Promise<KubeResource> {
    const [group, version] = apiVersion.includes("/") ? (apiVersion.split("/", 2) as [string, string]) : ["", apiVersion];
    const found = (await this.list({ group, version }, timing))?.find((r) => r.kind === kind);
    if (!found) throw this.unknown(`${kind} (${apiVersion})`, "the object's apiVersion and kind must name a type the server serves; a custom resource needs its CRD installed");
    return found;
  }

  /** deployment, deploy, deployments, Deployment, deployments.apps, deployments.v1.apps, propagationpolicies.policy.karmada.io. */
  async resolveType(text: string, timing: Timing): Promise<KubeResource> {
    const lower = text.trim().toLowerCase();
    if (!lower || /[/\s]/.test(lower)) throw this.unknown(text, "write a type as kubectl takes it: deployment, deploy, deployments.apps");
    const [name, ...rest] = lower.split(".");
    const qualifier = rest.join(".");
    const matches = (r: KubeResource) => r.resource === name || r.singular === name || r.kind.toLowerCase() === name || r.shortNames.includes(name!);
    if (qualifier) {
      // kubectl tries resource.version.group first, then resource.group.
      const [version, ...groupParts] = rest;
      const versions = await this.versionsByGroup(timing);
      if (groupParts.length > 0 && versions.get(groupParts.join("."))?.includes(version!)) {
        const found = (await this.list({ group: groupParts.join("."), version: version! }, timing))?.find(matches);
        if (found) return found;
      }
      for (const gv of await this.groupVersions(timing)) {
        if (gv.group !== qualifier) continue;
        const found = (await this.list(gv, timing))?.find(matches);
        if (found) return found;
      }
      throw this.unknown(text, "kubectl api-resources lists the types the server serves");
    }
    for (const gv of await this.groupVersions(timing)) {
      const found = (await this.list(gv, timing))?.find(matches);
      if (found) return found;
    }
    throw this.unknown(text, "kubectl api-resources lists the types the server serves; a custom resource needs its CRD installed");
  }

  private unknown(what: string, hint: string): OpsError {
    return new OpsError({ code: "E_KUBE_UNKNOWN_TYPE", message: `${this.where} serves no resource type ${JSON.stringify(what)}`, hint, exitCode: ExitCode.check });
  }

  /** The core group's v1, then every group's preferred version in the server's order (the order kubectl prefers them in). */
  private groupVersions(timing: Timing): Promise<GroupVersion[]> {
    this.groups ??= (async () => {
      const core = await this.get("/api", timing);
      const versions = core.status === 200 ? ((core.body as APIVersions).versions ?? []) : [];
      const apis = await this.get("/apis", timing);
      if (core.status !== 200 && apis.status !== 200) throw this.failed("/api", core.status);
      const list = apis.status === 200 ? ((apis.body as APIGroupList).groups ?? []) : [];
      return [
        ...versions.map((version) => ({ group: "", version })),
        ...list.flatMap((group) => {
          const preferred = group.preferredVersion?.version ?? group.versions[0]?.version;
          return preferred ? [{ group: group.name, version: preferred }] : [];
        }),
      ];
    })();
    this.groups.catch(() => (this.groups = undefined));
    return this.groups;
  }

  /** Every version each group serves, for group.version qualifiers and apiVersions beside the preferred one. */
  private versionsByGroup(timing: Timing): Promise<Map<string, string[]>> {
    this.allVersions ??= (async () => {
      const apis = await this.get("/apis", timing);
      const list = apis.status === 200 ? ((apis.body as APIGroupList).groups ?? []) : [];
      return new Map(list.map((group) => [group.name, group.versions.map((v) => v.version)]));
    })();
    this.allVersions.catch(() => (this.allVersions = undefined));
    return this.allVersions;
  }

  private failed(path: string, status: number): OpsError {
    return new OpsError({ code: "E_KUBE_DISCOVERY", message: `${this.where}: discovery (GET ${path}) answered ${status}`, hint: "check that the server is a Kubernetes API server and the user may read /api and /apis", exitCode: ExitCode.check });
  }

  /** A group version's resources; undefined when the server does not serve it. */
  private list(gv: GroupVersion, timing: Timing): Promise<KubeResource[] | undefined> {
    const path = gv.group ? `/apis/${pathSegment(gv.group, "group")}/${pathSegment(gv.version, "version")}` : `/api/${pathSegment(gv.version, "version")}`;
    let pending = this.lists.get(path);
    if (!pending) {
      pending = this.get(path, timing).then(({ status, body }) => {
        if (status === 404) return undefined;
        // An aggregated API that is down (503) hides its types, not everyone else's.
        if (status >= 500) return undefined;
        if (status !== 200) throw this.failed(path, status);
        return resourcesOf(gv, body as APIResourceList);
      });
      pending.catch(() => this.lists.delete(path));
      this.lists.set(path, pending);
    }
    return pending;
  }
}

function resourcesOf(gv: GroupVersion, list: APIResourceList): KubeResource[] {
  const all = list.resources ?? [];
  return all
    .filter((r) => !r.name.includes("/"))
    .map((r) => ({
      group: r.group ?? gv.group,
      version: r.version ?? gv.version,
      resource: r.name,
      kind: r.kind,
      singular: r.singularName || r.kind.toLowerCase(),
      namespaced: r.namespaced,
      shortNames: r.shortNames ?? [],
      subresources: all.filter((s) => s.name.startsWith(`${r.name}/`)).map((s) => s.name.slice(r.name.length + 1)),
    }));
}
