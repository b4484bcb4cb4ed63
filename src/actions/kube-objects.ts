import type { IIoK8sApimachineryPkgApisMetaV1Status as Status } from "@kubernetes-models/apimachinery/apis/meta/v1/Status";
import { ExitCode, OpsError } from "../errors.ts";
import { pathOf, statusMessage, type KubeClient, type KubeResource, type Timing } from "../transport/kube/index.ts";

/* Objects and answers of the Kubernetes API as the kube action's verbs and waits read them. */

export type KubeObject = { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string; resourceVersion?: string; generation?: number; managedFields?: unknown; annotations?: Record<string, string> }; [key: string]: unknown };

/** Where an operation happens, for messages: deployments.apps "api" in namespace prod (context "x"). */
export interface Place {
  client: KubeClient;
  resource: KubeResource;
  namespace: string;
  name: string;
  path: string;
  shown: string;
}

export function typeName(resource: KubeResource): string {
  return resource.group ? `${resource.resource}.${resource.group}` : resource.resource;
}

export async function placeOf(client: KubeClient, ref: { type?: string; apiVersion?: string; kind?: string; name: string }, namespace: string, timing: Timing): Promise<Place> {
  const resource = await client.resolveResource(ref.type !== undefined ? { resource: ref.type } : { apiVersion: ref.apiVersion!, kind: ref.kind! }, timing);
  const path = pathOf(resource, { namespace, name: ref.name });
  const where = resource.namespaced ? ` in namespace ${namespace}` : "";
  return { client, resource, namespace, name: ref.name, path, shown: `${typeName(resource)} "${ref.name}"${where} (context "${client.context.name}")` };
}

/** A failed answer as an error that says what it means for the step. */
export function statusFailure(status: number, body: unknown, verb: string, shown: string): OpsError {
  const reason = (body as Status | undefined)?.reason;
  const message = `${verb} ${shown}: ${status}${reason ? ` ${reason}` : ""}: ${statusMessage(body)}`;
  const fail = (code: string, hint: string) => new OpsError({ code, message, hint, exitCode: ExitCode.check });
  if (status === 404) return fail("E_KUBE_NOT_FOUND", "check the name, the namespace (namespace: in the step, else the context's) and the context");
  if (status === 409) {
    return fail("E_KUBE_CONFLICT", verb === "apply" ? "another field manager owns fields this manifest sets: set apply.force: true to take them over, or leave those fields out" : "the object changed while the step ran, or already exists: run the step again (retries: { attempts: 3 })");
  }
  if (status === 403) return fail("E_KUBE_FORBIDDEN", `the context's user may not ${verb} this: grant it through RBAC (a Role or ClusterRole binding), or use a context that may`);
  if (status === 422 || status === 400) return fail("E_KUBE_INVALID", "the server refused the object or patch as invalid: fix what the message names");
  if (status === 410) return fail("E_KUBE_GONE", "the server no longer has that version of the object: run the step again");
  if (status === 414 || status === 431) return fail("E_KUBE_TOO_LONG", "the request was too long for the server: a Kubernetes name is at most 253 characters");
  if (status >= 500) return fail("E_KUBE_SERVER", "the API server failed: retry the step (retries:), or check the server's health");
  return fail("E_KUBE_STATUS", "see the server's message");
}

export const ok = (status: number) => status >= 200 && status <= 299;

/** What a result may keep of an object: no managedFields (noise), and a Secret's values never (results are journaled). */
export function resultObject(object: unknown): unknown {
  if (!object || typeof object !== "object") return object;
  const copy = structuredClone(object) as KubeObject;
  if (copy.metadata) delete copy.metadata.managedFields;
  if (copy.kind === "Secret") {
    for (const field of ["data", "stringData"]) {
      const values = copy[field] as Record<string, string> | undefined;
      if (values && typeof values === "object") copy[field] = Object.fromEntries(Object.keys(values).map((key) => [key, `(${String(values[key]).length} characters, not shown)`]));
    }
    delete copy.metadata?.annotations?.["kubectl.kubernetes.io/last-applied-configuration"];
  }
  return copy;
}


/** JSON with keys in order, so two readings of one object compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

/** What a step can set: the object without its status and the fields the server keeps for itself. */
function intent(object: KubeObject): unknown {
  const { status: _status, metadata, ...rest } = object;
  const { resourceVersion: _v, managedFields: _m, generation: _g, ...meta } = metadata ?? {};
  return { ...rest, metadata: meta };
}

/**
 * Whether the server changed the object: its resourceVersion moved, and more
 * than its status did (a controller writes status all the time, also between
 * the step's read and its write).
 */
export function objectChanged(before: KubeObject | undefined, after: KubeObject | undefined): boolean {
  if (!before || !after) return before !== after;
  if (before.metadata?.resourceVersion === after.metadata?.resourceVersion) return false;
  return canonical(intent(before)) !== canonical(intent(after));
}
