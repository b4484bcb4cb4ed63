/**
 * What happens to every write before it is stored: metadata the server owns,
 * defaults, validation (422), generation, status kept apart from spec, and
 * field managers.
 */
import { randomUUID } from "node:crypto";
import { recordUpdate } from "./fields.ts";
import { clone, deepEqual, isObject } from "./patch.ts";
import { apiVersionOf, type ResourceType } from "./resources.ts";
import { badRequest, conflict, invalid, statusFailure, type Cause } from "./status.ts";

const timestamp = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface WriteOptions {
  /** Field manager: the fieldManager query parameter, or the user agent's product name. */
  manager: string;
  subresource?: string;
  /** The object's managedFields were already computed (server-side apply). */
  applied?: boolean;
}

/** Properties of a Deployment the API server defaults, as apps/v1 defaulting does. */
export function defaultDeployment(d: any) {
  const spec = (d.spec ??= {});
  spec.replicas ??= 1;
  spec.strategy ??= { type: "RollingUpdate" };
  spec.strategy.type ??= "RollingUpdate";
  if (spec.strategy.type === "RollingUpdate") {
    spec.strategy.rollingUpdate ??= {};
    spec.strategy.rollingUpdate.maxSurge ??= "25%";
    spec.strategy.rollingUpdate.maxUnavailable ??= "25%";
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  const template = (spec.template ??= {});
  template.metadata ??= {};
  template.metadata.creationTimestamp ??= null;
  const pod = (template.spec ??= {});
  pod.restartPolicy ??= "Always";
  pod.terminationGracePeriodSeconds ??= 30;
  pod.dnsPolicy ??= "ClusterFirst";
  pod.securityContext ??= {};
  pod.schedulerName ??= "default-scheduler";
  for (const c of Array.isArray(pod.containers) ? pod.containers : []) {
    if (!isObject(c)) continue;
    const image = String(c.image ?? "");
    c.imagePullPolicy ??= image.endsWith(":latest") || !/:[^/]+$/.test(image) ? "Always" : "IfNotPresent";
    c.terminationMessagePath ??= "/dev/termination-log";
    c.terminationMessagePolicy ??= "File";
    c.resources ??= {};
  }
}

function selectorMatches(selector: any, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector?.matchExpressions ?? []) {
    const has = e.key in labels;
    if (e.operator === "In" && !(e.values ?? []).includes(labels[e.key])) return false;
    if (e.operator === "NotIn" && (e.values ?? []).includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

const goMap = (m: Record<string, unknown>) => `map[string]string{${Object.entries(m).map(([k, v]) => `"${k}":"${v}"`).join(", ")}}`;

function notInt(value: unknown, field: string, kind: string) {
  return badRequest(`json: cannot unmarshal ${typeof value === "string" ? "string" : typeof value} into Go struct field ${kind}.${field} of type int32`);
}

function validateDeployment(d: any, before: any): Cause[] {
  const causes: Cause[] = [];
  const spec = d.spec ?? {};
  if (spec.replicas !== undefined && !Number.isInteger(spec.replicas)) throw notInt(spec.replicas, "spec.replicas", "DeploymentSpec");
  if (spec.replicas < 0) causes.push({ field: "spec.replicas", message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0` });
  if (!isObject(spec.selector) || (!isObject(spec.selector.matchLabels) && !Array.isArray(spec.selector.matchExpressions))) {
    causes.push({ field: "spec.selector", message: "Required value", reason: "FieldValueRequired" });
  } else {
    const labels = spec.template?.metadata?.labels ?? {};
    if (!selectorMatches(spec.selector, labels)) causes.push({ field: "spec.template.metadata.labels", message: `Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\`` });
    if (before && !deepEqual(before.spec?.selector, spec.selector)) causes.push({ field: "spec.selector", message: "Invalid value: v1.LabelSelector{...}: field is immutable" });
  }
  const containers = spec.template?.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) causes.push({ field: "spec.template.spec.containers", message: "Required value", reason: "FieldValueRequired" });
  else
    containers.forEach((c: any, i: number) => {
      if (!c?.name) causes.push({ field: `spec.template.spec.containers[${i}].name`, message: "Required value", reason: "FieldValueRequired" });
      if (!c?.image) causes.push({ field: `spec.template.spec.containers[${i}].image`, message: "Required value", reason: "FieldValueRequired" });
    });
  const ru = spec.strategy?.rollingUpdate;
  const zero = (v: unknown) => v === 0 || v === "0%";
  if (ru && zero(ru.maxSurge) && zero(ru.maxUnavailable)) causes.push({ field: "spec.strategy.rollingUpdate.maxUnavailable", message: "Invalid value: 0: may not be 0 when `maxSurge` is 0" });
  return causes;
}

function validate(type: ResourceType, object: any, before: any) {
  const name = String(object.metadata?.name ?? "");
  const causes: Cause[] = [];
  const pattern = type.resource === "namespaces" ? LABEL : SUBDOMAIN;
  const limit = type.resource === "namespaces" ? 63 : 253;
  if (!pattern.test(name) || name.length > limit) {
    const what = type.resource === "namespaces" ? "RFC 1123 label" : "RFC 1123 subdomain";
    causes.push({ field: "metadata.name", message: `Invalid value: ${JSON.stringify(name)}: a lowercase ${what} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` });
  }
  for (const field of ["labels", "annotations"]) {
    const map = object.metadata?.[field];
    if (map !== undefined && !isObject(map)) throw badRequest(`json: cannot unmarshal ${Array.isArray(map) ? "array" : typeof map} into Go struct field ObjectMeta.metadata.${field} of type map[string]string`);
    for (const [k, v] of Object.entries(map ?? {})) if (typeof v !== "string") throw badRequest(`json: cannot unmarshal ${typeof v} into Go struct field ObjectMeta.metadata.${field} of type string (key ${JSON.stringify(k)})`);
  }
  if (type.resource === "deployments") causes.push(...validateDeployment(object, before));
  if (type.resource === "configmaps" || type.resource === "secrets") {
    for (const [k, v] of Object.entries(object.data ?? {})) if (typeof v !== "string") throw badRequest(`json: cannot unmarshal ${typeof v} into Go struct field ${type.kind}.data of type string (key ${JSON.stringify(k)})`);
  }
  if (causes.length) throw invalid(type.kind, type.group, name, causes);
}

const withoutVolatile = (o: any) => {
  const c = clone(o);
  delete c.metadata.managedFields;
  delete c.metadata.resourceVersion;
  return c;
};

const specOf = (type: ResourceType, o: any) => {
  const c = clone(o);
  delete c.metadata;
  if (type.subresources.includes("status")) delete c.status;
  return c;
};

/**
 * The object to store for a create (before undefined) or an update, or the
 * unchanged stored object when the write changes nothing (no new
 * resourceVersion, as the real server skips no-op writes).
 */
export function admit(type: ResourceType, namespace: string | undefined, name: string, before: any, incoming: any, options: WriteOptions): { object: any; changed: boolean } {
  if (!isObject(incoming)) throw badRequest("the body of the request is not a JSON object");
  const after = clone(incoming);
  const apiVersion = apiVersionOf(type);
  if (after.apiVersion !== undefined && after.apiVersion !== apiVersion && options.subresource !== "scale") throw badRequest(`the API version in the data (${after.apiVersion}) does not match the expected API version (${apiVersion})`);
  if (after.kind !== undefined && after.kind !== type.kind && options.subresource !== "scale") throw badRequest(`the kind in the data (${after.kind}) does not match the expected kind (${type.kind})`);
  after.apiVersion = apiVersion;
  after.kind = type.kind;
  if (!isObject(after.metadata)) after.metadata = {};
  const meta = after.metadata;
  if (meta.name !== undefined && meta.name !== name) throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
  meta.name = name;
  if (type.namespaced) {
    if (meta.namespace !== undefined && meta.namespace !== namespace) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    meta.namespace = namespace;
  } else delete meta.namespace;
  if (before) {
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== "" && meta.resourceVersion !== before.metadata.resourceVersion) throw conflict(type, name);
    if (meta.uid !== undefined && meta.uid !== before.metadata.uid) throw statusFailure(409, "Conflict", `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${before.metadata.uid}`);
    meta.uid = before.metadata.uid;
    meta.creationTimestamp = before.metadata.creationTimestamp;
    if (before.metadata.generation !== undefined) meta.generation = before.metadata.generation;
    else delete meta.generation;
    if (!options.applied) meta.managedFields = before.metadata.managedFields;
  } else {
    if (meta.resourceVersion) throw badRequest("resourceVersion should not be set on objects to be created");
    meta.uid = randomUUID();
    meta.creationTimestamp = timestamp();
    if (type.generation) meta.generation = 1;
    else delete meta.generation;
    if (!options.applied) delete meta.managedFields;
  }
  if (type.subresources.includes("status")) {
    if (options.subresource === "status") {
      const status = after.status;
      Object.assign(after, clone(before), { status });
      after.metadata = { ...clone(before.metadata), managedFields: meta.managedFields };
    } else if (before) after.status = clone(before.status);
    else after.status = {};
  }
  if (type.resource === "deployments") defaultDeployment(after);
  if (type.resource === "namespaces") after.status = before?.status ?? { phase: "Active" };
  if (type.resource === "namespaces") after.spec = before?.spec ?? { finalizers: ["kubernetes"] };
  validate(type, after, before);
  if (before && type.generation && !deepEqual(specOf(type, before), specOf(type, after))) meta.generation = (before.metadata.generation ?? 1) + 1;
  if (!options.applied) recordUpdate(before, after, options.manager, apiVersion, !type.custom, options.subresource);
  if (before && deepEqual(withoutVolatile(before), withoutVolatile(after))) return { object: before, changed: false };
  return { object: after, changed: true };
}
