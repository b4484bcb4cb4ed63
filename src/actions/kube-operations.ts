import type { IScale } from "kubernetes-models/autoscaling/v1/Scale";
import { ExitCode, OpsError } from "../errors.ts";
import { kubeClient, type KubeClient, type Timing } from "../transport/kube/index.ts";
import type { KubeRendered, ObjectRef } from "./kube.ts";
import { manifestName } from "./kube.ts";
import { objectChanged, ok, placeOf, resultObject, statusFailure, typeName, type KubeObject, type Place } from "./kube-objects.ts";
import { waitForObject } from "./kube-wait.ts";
import type { ActionContext, ActionResult, PermissionSubject } from "./types.ts";

/*
 * The kube action's verbs, each sending what kubectl sends for it:
 * restart is `kubectl rollout restart` (GET, then a strategic-merge patch of
 * the pod template's kubectl.kubernetes.io/restartedAt annotation), scale is
 * `kubectl scale` (GET, then a merge patch of the scale subresource), apply
 * is server-side apply (PATCH application/apply-patch+yaml, field manager
 * opskit). `changed` is whether the server changed the object: its
 * resourceVersion moved and more than its status did (objectChanged).
 */

const FIELD_MANAGER = "opskit";
const RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt";
const PATCH_TYPES = { strategic: "application/strategic-merge-patch+json", merge: "application/merge-patch+json", json: "application/json-patch+json" } as const;
/** Clients are kept a minute: discovery is fetched once for a run's steps, and a rotated kubeconfig is read again soon after. */
const CLIENT_TTL_MS = 60_000;

const clients = new Map<string, { client: Promise<KubeClient>; madeAt: number }>();

function clientOf(rendered: Pick<KubeRendered, "kubeconfig" | "context">): Promise<KubeClient> {
  const key = JSON.stringify([rendered.kubeconfig ?? null, rendered.context ?? null]);
  const cached = clients.get(key);
  if (cached && performance.now() - cached.madeAt < CLIENT_TTL_MS) return cached.client;
  const client = kubeClient(rendered.kubeconfig, rendered.context);
  clients.set(key, { client, madeAt: performance.now() });
  client.catch(() => clients.get(key)?.client === client && clients.delete(key));
  return client;
}

interface Outcome {
  changed: boolean;
  object: unknown;
  /** kubectl's line for it: deployment.apps/api restarted. */
  line: string;
  extra?: Record<string, unknown>;
}

/** Runs the rendered step against its context; failures of the API are thrown as OpsErrors. */
export async function runKube(rendered: KubeRendered, context: ActionContext): Promise<ActionResult> {
  const startedAt = performance.now();
  const deadline = startedAt + (rendered.timeoutMs ?? context.timeoutMs);
  const timing = (): Timing => ({ timeoutMs: Math.max(1, deadline - performance.now()), signal: context.signal });
  const client = await clientOf(rendered);
  const namespace = rendered.namespace ?? client.context.namespace ?? "default";
  const verbs: Record<KubeRendered["verb"], () => Promise<Outcome | ActionResult>> = {
    restart: () => restart(client, rendered.object!, namespace, timing),
    scale: () => scale(client, rendered.object!, rendered.replicas!, namespace, timing),
    patch: () => patch(client, rendered, namespace, timing),
    apply: () => apply(client, rendered, namespace, timing),
    delete: () => remove(client, rendered, namespace, timing),
    get: () => get(client, rendered.object!, namespace, timing),
    wait: async () => {
      const place = await placeOf(client, rendered.object!, namespace, timing());
      return waitForObject(place, rendered.wait!, deadline, context, startedAt);
    },
  };
  const outcome = await verbs[rendered.verb]();
  if ("ok" in outcome) return outcome;
  return {
    ok: true,
    changed: outcome.changed,
    exitCode: null,
    stdout: `${outcome.line}\n`,
    stderr: "",
    durationMs: performance.now() - startedAt,
    data: { verb: rendered.verb, context: client.context.name, namespace, object: resultObject(outcome.object), ...outcome.extra },
  };
}

const kubectlName = (place: Place) => `${place.resource.group ? `${place.resource.singular}.${place.resource.group}` : place.resource.singular}/${place.name}`;

/** GET, failing on anything but 2xx (404 included). */
async function read(place: Place, verb: string, timing: () => Timing): Promise<KubeObject> {
  const { status, body } = await place.client.request<KubeObject>({ method: "GET", path: place.path, ...timing() });
  if (!ok(status)) throw statusFailure(status, body, verb, place.shown);
  return body;
}

async function send(place: Place, verb: string, request: { method: string; path?: string; query?: Record<string, string>; body?: unknown; contentType?: string }, timing: () => Timing): Promise<KubeObject> {
  const { status, body } = await place.client.request<KubeObject>({ path: place.path, ...request, ...timing() });
  if (!ok(status)) throw statusFailure(status, body, verb, place.shown);
  return body;
}

const versionOf = (object: KubeObject | undefined) => object?.metadata?.resourceVersion;

/** kubectl rollout restart: only the kinds it restarts, never a paused deployment. */
async function restart(client: KubeClient, ref: ObjectRef, namespace: string, timing: () => Timing): Promise<Outcome> {
  const place = await placeOf(client, ref, namespace, timing());
  const restartable = place.resource.group === "apps" && ["deployments", "statefulsets", "daemonsets"].includes(place.resource.resource);
  if (!restartable) throw new OpsError({ code: "E_KUBE_RESTART", message: `restart ${place.shown}: only deployments, statefulsets and daemonsets restart`, hint: "as kubectl rollout restart; for another kind, patch what makes it restart", exitCode: ExitCode.check });
  const before = await read(place, "restart", timing);
  if ((before.spec as { paused?: boolean } | undefined)?.paused === true) {
    throw new OpsError({ code: "E_KUBE_PAUSED", message: `restart ${place.shown}: the deployment is paused`, hint: "resume it first (kubectl rollout resume, or patch spec.paused: false)", exitCode: ExitCode.check });
  }
  // RFC 3339 to the second, as kubectl writes it.
  const restartedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const body = { spec: { template: { metadata: { annotations: { [RESTART_ANNOTATION]: restartedAt } } } } };
  const after = await send(place, "restart", { method: "PATCH", query: { fieldManager: FIELD_MANAGER }, body, contentType: PATCH_TYPES.strategic }, timing);
  return { changed: objectChanged(before, after), object: after, line: `${kubectlName(place)} restarted`, extra: { restartedAt } };
}

/** kubectl scale: the object read, then a merge patch of its scale subresource. */
async function scale(client: KubeClient, ref: ObjectRef, replicas: number, namespace: string, timing: () => Timing): Promise<Outcome> {
  const place = await placeOf(client, ref, namespace, timing());
  if (!place.resource.subresources.includes("scale")) {
    throw new OpsError({ code: "E_KUBE_SCALE", message: `scale ${place.shown}: ${typeName(place.resource)} has no scale subresource`, hint: "scale deployments, statefulsets, replicasets, or a custom resource that serves /scale", exitCode: ExitCode.check });
  }
  const before = await read(place, "scale", timing);
  const after = (await send(place, "scale", { method: "PATCH", path: `${place.path}/scale`, query: { fieldManager: FIELD_MANAGER }, body: { spec: { replicas } }, contentType: PATCH_TYPES.merge }, timing)) as IScale;
  // The Scale is not the object read before it: what changed is its replica count.
  const previous = (before.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const changed = after.metadata?.resourceVersion !== versionOf(before) && after.spec?.replicas !== previous;
  return { changed, object: after, line: `${kubectlName(place)} scaled`, extra: { replicas, previousReplicas: previous } };
}

async function patch(client: KubeClient, rendered: KubeRendered, namespace: string, timing: () => Timing): Promise<Outcome> {
  const place = await placeOf(client, rendered.object!, namespace, timing());
  const before = await read(place, "patch", timing);
  const { type, body } = rendered.patch!;
  const after = await send(place, "patch", { method: "PATCH", query: { fieldManager: FIELD_MANAGER }, body, contentType: PATCH_TYPES[type] }, timing);
  const changed = objectChanged(before, after);
  return { changed, object: after, line: `${kubectlName(place)} ${changed ? "patched" : "patched (no change)"}` };
}

/** Server-side apply: the manifest as the whole intent of field manager opskit; created, configured or unchanged by resourceVersion. */
async function apply(client: KubeClient, rendered: KubeRendered, namespace: string, timing: () => Timing): Promise<Outcome> {
  const manifest = rendered.manifest!;
  const metadata = (manifest.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  if (typeof manifest.apiVersion !== "string" || typeof manifest.kind !== "string" || typeof metadata.name !== "string") {
    throw new OpsError({ code: "E_KUBE_MANIFEST", message: `apply ${manifestName(manifest)}: the manifest needs apiVersion, kind and metadata.name`, hint: "write a whole object, as kubectl apply takes it", exitCode: ExitCode.check });
  }
  const own = typeof metadata.namespace === "string" ? metadata.namespace : undefined;
  if (own !== undefined && rendered.namespace !== undefined && own !== rendered.namespace) {
    throw new OpsError({ code: "E_KUBE_MANIFEST", message: `apply ${manifestName(manifest)}: the manifest's namespace ${own} is not the step's ${rendered.namespace}`, hint: "drop one of them, or make them agree", exitCode: ExitCode.check });
  }
  const ns = own ?? namespace;
  const place = await placeOf(client, { apiVersion: manifest.apiVersion, kind: manifest.kind, name: metadata.name }, ns, timing());
  const existing = await place.client.request<KubeObject>({ method: "GET", path: place.path, ...timing() });
  if (!ok(existing.status) && existing.status !== 404) throw statusFailure(existing.status, existing.body, "apply", place.shown);
  const before = existing.status === 404 ? undefined : existing.body;
  const object = place.resource.namespaced ? { ...manifest, metadata: { ...(manifest.metadata as object), namespace: ns } } : manifest;
  // As kubectl apply --server-side: unknown fields are refused (a typo fails rather than vanishing), force said either way.
  const query: Record<string, string> = { fieldManager: FIELD_MANAGER, fieldValidation: "Strict", force: String(rendered.force) };
  // JSON is YAML: the body is the manifest as JSON, under apply-patch+yaml, as kubectl sends it.
  const after = await send(place, "apply", { method: "PATCH", query, body: JSON.stringify(object), contentType: "application/apply-patch+yaml" }, timing);
  const changed = objectChanged(before, after);
  const how = !before ? "created" : changed ? "configured" : "unchanged";
  return { changed, object: after, line: `${kubectlName(place)} serverside-applied (${how})`, extra: { created: !before } };
}

/** DELETE with background propagation, as kubectl delete; an object already gone fails unless ignoreNotFound. */
async function remove(client: KubeClient, rendered: KubeRendered, namespace: string, timing: () => Timing): Promise<Outcome> {
  const place = await placeOf(client, rendered.object!, namespace, timing());
  const { status, body } = await client.request<KubeObject>({ method: "DELETE", path: place.path, body: { propagationPolicy: "Background" }, ...timing() });
  if (status === 404 && rendered.ignoreNotFound) return { changed: false, object: null, line: `${kubectlName(place)} not found (ignored)` };
  if (!ok(status)) throw statusFailure(status, body, "delete", place.shown);
  return { changed: true, object: body, line: `${kubectlName(place)} deleted` };
}

async function get(client: KubeClient, ref: ObjectRef, namespace: string, timing: () => Timing): Promise<Outcome> {
  const place = await placeOf(client, ref, namespace, timing());
  const object = await read(place, "get", timing);
  return { changed: false, object, line: `${kubectlName(place)} resourceVersion ${versionOf(object) ?? "?"}` };
}

/**
 * What permissions and the org policy judge: `VERB TYPE/NAME` and, for a
 * namespaced object, `VERB NAMESPACE/TYPE/NAME`, with the type in every
 * spelling the server knows it by (kind, plural, short names, with and
 * without its group) and as written, so `restart deployment/*` holds
 * however the step names it. The namespace is the one the step runs in.
 */
export async function kubeSubjects(rendered: KubeRendered): Promise<PermissionSubject[]> {
  const timing = { timeoutMs: rendered.timeoutMs ?? 30_000, signal: AbortSignal.timeout(rendered.timeoutMs ?? 30_000) };
  const client = await clientOf(rendered);
  const manifest = rendered.manifest;
  const metadata = (manifest?.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const ref = rendered.object ?? { apiVersion: String(manifest?.apiVersion ?? ""), kind: String(manifest?.kind ?? ""), name: String(metadata.name ?? "") };
  const resource = await client.resolveResource("type" in ref ? { resource: ref.type } : { apiVersion: ref.apiVersion, kind: ref.kind }, timing);
  const namespace = (typeof metadata.namespace === "string" ? metadata.namespace : undefined) ?? rendered.namespace ?? client.context.namespace ?? "default";
  const names = [resource.kind.toLowerCase(), resource.singular, resource.resource, ...resource.shortNames, ...("type" in ref ? [ref.type.toLowerCase()] : [])];
  const kinds = [...new Set(resource.group ? [...names, ...names.map((n) => `${n}.${resource.group}`)] : names)];
  return [{ category: "kube", label: "kube operation", verb: rendered.verb, kinds, name: ref.name, ...(resource.namespaced ? { namespace } : {}), context: client.context.name }];
}
