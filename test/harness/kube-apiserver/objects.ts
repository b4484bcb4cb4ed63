/** The verbs on stored objects: get, list, create, update, patch (four kinds), delete, and the scale and status subresources. */
import { parse as parseYaml } from "yaml";
import { admit } from "./admission.ts";
import { applyConfiguration, recordUpdate } from "./fields.ts";
import { clone, isObject, jsonPatch, mergePatch, strategicMergePatch } from "./patch.ts";
import { apiVersionOf, type ResourceType } from "./resources.ts";
import type { DeploymentController } from "./rollout.ts";
import { labelSelector, fieldSelector } from "./selectors.ts";
import { alreadyExists, badRequest, conflict, notFound, statusFailure } from "./status.ts";
import type { ObjectStore } from "./store.ts";
import { checkStrict } from "./strict.ts";

export interface ObjectContext {
  store: ObjectStore;
  controller: DeploymentController;
  namespaces: ResourceType;
  types: ResourceType[];
}

export interface Target {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  query: URLSearchParams;
  /** The field manager of a write: fieldManager, or the user agent's product name. */
  manager: string;
}

export interface Reply {
  status: number;
  body: unknown;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });
const dryRun = (t: Target) => t.query.getAll("dryRun").includes("All");

function existing(ctx: ObjectContext, t: Target): any {
  const o = ctx.store.get(t.type, t.namespace, t.name!);
  if (!o) throw notFound(t.type, t.name!);
  return o;
}

function requireNamespace(ctx: ObjectContext, t: Target) {
  if (t.type.namespaced && !ctx.store.get(ctx.namespaces, undefined, t.namespace!)) throw notFound(ctx.namespaces, t.namespace!);
}

/** Stores what admission made of a write (unless dry run) and tells the Deployment controller. */
function commit(ctx: ObjectContext, t: Target, result: { object: any; changed: boolean }): any {
  if (!result.changed || dryRun(t)) return clone(result.object);
  const stored = ctx.store.put(t.type, result.object);
  if (t.type.resource === "deployments") ctx.controller.changed(stored.metadata.namespace, stored.metadata.name);
  return clone(stored);
}

// ---- reads ----

export function getObject(ctx: ObjectContext, t: Target): Reply {
  const o = existing(ctx, t);
  return ok(t.subresource === "scale" ? toScale(o) : clone(o));
}

interface ContinueToken {
  offset: number;
}

export function listObjects(ctx: ObjectContext, t: Target): { items: any[]; resourceVersion: string; continueToken?: string; remaining?: number } {
  const labels = labelSelector(t.query.get("labelSelector") ?? undefined);
  const fields = fieldSelector(t.query.get("fieldSelector") ?? undefined);
  const all = ctx.store.list(t.type, t.namespace).filter((o) => labels(o) && fields(o));
  let offset = 0;
  const token = t.query.get("continue");
  if (token) {
    try {
      offset = (JSON.parse(Buffer.from(token, "base64url").toString()) as ContinueToken).offset;
    } catch {
      throw badRequest("continue key is not valid: illegal base64 data");
    }
  }
  const limit = Number(t.query.get("limit") ?? 0);
  const end = limit > 0 ? offset + limit : all.length;
  const items = all.slice(offset, end).map(clone);
  const more = end < all.length;
  return {
    items,
    resourceVersion: String(ctx.store.resourceVersion),
    ...(more ? { continueToken: Buffer.from(JSON.stringify({ offset: end })).toString("base64url"), remaining: all.length - end } : {}),
  };
}

export function listBody(t: Target, list: ReturnType<typeof listObjects>) {
  return {
    kind: `${t.type.kind}List`,
    apiVersion: apiVersionOf(t.type),
    metadata: { resourceVersion: list.resourceVersion, ...(list.continueToken ? { continue: list.continueToken, remainingItemCount: list.remaining } : {}) },
    // Items of built-in lists carry no apiVersion and kind; custom resources keep theirs.
    items: list.items.map((o) => {
      if (t.type.custom) return o;
      const { apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    }),
  };
}

// ---- writes ----

export function createObject(ctx: ObjectContext, t: Target, body: unknown): Reply {
  if (!isObject(body)) throw badRequest("the body of the request is not a JSON object");
  checkStrict(t.type, body, t.query);
  const meta = isObject(body.metadata) ? body.metadata : {};
  let name = typeof meta.name === "string" ? meta.name : "";
  if (!name && typeof meta.generateName === "string") name = meta.generateName + Math.random().toString(36).slice(2, 7);
  if (!name) throw statusFailure(422, "Invalid", `${t.type.kind}${t.type.group ? "." + t.type.group : ""} "" is invalid: metadata.name: Required value: name or generateName is required`);
  if (t.type.namespaced && meta.namespace !== undefined && meta.namespace !== t.namespace) throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  requireNamespace(ctx, t);
  if (ctx.store.get(t.type, t.namespace, name)) throw alreadyExists(t.type, name);
  const object = { ...body, metadata: { ...meta, name } };
  return ok(commit(ctx, t, admit(t.type, t.namespace, name, undefined, object, { manager: t.manager })), 201);
}

export function updateObject(ctx: ObjectContext, t: Target, body: unknown): Reply {
  const before = existing(ctx, t);
  checkStrict(t.type, body, t.query, t.subresource);
  if (t.subresource === "scale") return ok(writeScale(ctx, t, before, body));
  return ok(commit(ctx, t, admit(t.type, t.namespace, t.name!, before, body, { manager: t.manager, subresource: t.subresource })));
}

const patchTypes = {
  "application/json-patch+json": (target: any, patch: any) => jsonPatch(target, patch),
  "application/merge-patch+json": (target: any, patch: any) => mergePatch(target, patch),
  "application/strategic-merge-patch+json": (target: any, patch: any) => strategicMergePatch(target, patch),
} as const;

function unsupportedPatch(t: Target, contentType: string) {
  const accepted = ["application/json-patch+json", "application/merge-patch+json", ...(t.type.custom ? [] : ["application/strategic-merge-patch+json"]), "application/apply-patch+yaml"];
  return statusFailure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`);
}

function parsePatchBody(text: string, yaml: boolean): any {
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw badRequest(`error decoding patch: ${(error as Error).message.split("\n")[0]}`);
  }
}

export function patchObject(ctx: ObjectContext, t: Target, contentType: string, text: string): Reply {
  if (contentType === "application/apply-patch+yaml") return applyObject(ctx, t, parsePatchBody(text, true));
  if (!(contentType in patchTypes) || (t.type.custom && contentType === "application/strategic-merge-patch+json")) throw unsupportedPatch(t, contentType);
  const patch = parsePatchBody(text, false);
  const apply = patchTypes[contentType as keyof typeof patchTypes];
  const before = existing(ctx, t);
  if (t.subresource === "scale") {
    const scale = apply(toScale(before), patch);
    checkStrict(t.type, scale, t.query, "scale");
    return ok(writeScale(ctx, t, before, scale));
  }
  const patched = apply(clone(before), patch);
  if (!isObject(patched)) throw badRequest("the patch did not leave an object");
  checkStrict(t.type, patched, t.query, t.subresource);
  // A resourceVersion carried by the patch is a precondition, as on update.
  return ok(commit(ctx, t, admit(t.type, t.namespace, t.name!, before, patched, { manager: t.manager, subresource: t.subresource })));
}

function applyObject(ctx: ObjectContext, t: Target, applied: any): Reply {
  const manager = t.query.get("fieldManager");
  if (!manager) throw badRequest("PATCH /apply: fieldManager is required for apply requests");
  if (!isObject(applied)) throw badRequest("error decoding patch: the applied configuration is not an object");
  checkStrict(t.type, applied, t.query, t.subresource);
  const force = t.query.get("force") === "true";
  const before = ctx.store.get(t.type, t.namespace, t.name!);
  if (t.subresource === "scale") {
    if (!before) throw notFound(t.type, t.name!);
    return ok(writeScale(ctx, t, before, mergePatch(toScale(before), { spec: applied.spec })));
  }
  if (!before) requireNamespace(ctx, t);
  if (applied.apiVersion !== apiVersionOf(t.type) || applied.kind !== t.type.kind) {
    throw badRequest(`error decoding patch: the applied configuration must name apiVersion ${apiVersionOf(t.type)} and kind ${t.type.kind}`);
  }
  const config = clone(applied);
  if (isObject(config.metadata)) {
    if (config.metadata.name !== undefined && config.metadata.name !== t.name) throw badRequest(`the name of the object (${config.metadata.name}) does not match the name on the URL (${t.name})`);
    for (const k of ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"]) delete config.metadata[k];
  }
  const merged = applyConfiguration(before, config, manager, force, !t.type.custom, t.subresource);
  if (isObject(applied.metadata) && applied.metadata.resourceVersion !== undefined && before && applied.metadata.resourceVersion !== before.metadata.resourceVersion) throw conflict(t.type, t.name!);
  if (before) merged.metadata.resourceVersion = before.metadata.resourceVersion;
  else delete merged.metadata.resourceVersion;
  const result = admit(t.type, t.namespace, t.name!, before, merged, { manager, subresource: t.subresource, applied: true });
  return ok(commit(ctx, t, result), before ? 200 : 201);
}

export function deleteObject(ctx: ObjectContext, t: Target, body: unknown): Reply {
  const before = existing(ctx, t);
  const pre = isObject(body) && isObject(body.preconditions) ? body.preconditions : {};
  if (pre.resourceVersion !== undefined && pre.resourceVersion !== before.metadata.resourceVersion) {
    throw conflict(t.type, t.name!, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${before.metadata.resourceVersion}`);
  }
  if (pre.uid !== undefined && pre.uid !== before.metadata.uid) {
    throw conflict(t.type, t.name!, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${before.metadata.uid}`);
  }
  const details = { name: t.name, ...(t.type.group ? { group: t.type.group } : {}), kind: t.type.resource, uid: before.metadata.uid };
  if (dryRun(t)) return ok({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details });
  if (t.type.resource === "namespaces") {
    // The namespace and its contents go at once; the reply shows it terminating, as the real server's does.
    for (const type of ctx.types.filter((x) => x.namespaced)) for (const o of ctx.store.list(type, t.name)) removeStored(ctx, type, o.metadata.namespace, o.metadata.name);
    const gone = clone(before);
    gone.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    gone.status = { phase: "Terminating" };
    ctx.store.delete(t.type, undefined, t.name!);
    return ok(gone);
  }
  removeStored(ctx, t.type, t.namespace, t.name!);
  return ok({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details });
}

function removeStored(ctx: ObjectContext, type: ResourceType, namespace: string | undefined, name: string) {
  ctx.store.delete(type, namespace, name);
  if (type.resource === "deployments") ctx.controller.forget(namespace!, name);
}

export function deleteCollection(ctx: ObjectContext, t: Target): Reply {
  const list = listObjects(ctx, { ...t, query: new URLSearchParams([...t.query].filter(([k]) => k !== "limit" && k !== "continue")) });
  if (!dryRun(t)) for (const o of list.items) removeStored(ctx, t.type, o.metadata.namespace, o.metadata.name);
  return ok(listBody(t, list));
}

// ---- scale subresource (autoscaling/v1 Scale) ----

function selectorString(selector: any): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    if (e.operator === "In") parts.push(`${e.key} in (${(e.values ?? []).join(",")})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${(e.values ?? []).join(",")})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.sort().join(",");
}

export function toScale(d: any) {
  const m = d.metadata;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: d.spec?.replicas ?? 0 },
    status: { replicas: d.status?.replicas ?? 0, selector: selectorString(d.spec?.selector) },
  };
}

function writeScale(ctx: ObjectContext, t: Target, before: any, scale: any) {
  if (!isObject(scale)) throw badRequest("the body of the request is not a Scale");
  const rv = scale.metadata?.resourceVersion;
  if (rv !== undefined && rv !== "" && rv !== before.metadata.resourceVersion) throw conflict(t.type, t.name!);
  const replicas = scale.spec?.replicas;
  if (replicas !== undefined && !Number.isInteger(replicas)) throw badRequest(`json: cannot unmarshal ${typeof replicas} into Go struct field ScaleSpec.spec.replicas of type int32`);
  if (replicas < 0) throw statusFailure(422, "Invalid", `Scale.autoscaling "${t.name}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`, { name: t.name, group: "autoscaling", kind: "Scale", causes: [{ reason: "FieldValueInvalid", message: `Invalid value: ${replicas}: must be greater than or equal to 0`, field: "spec.replicas" }] });
  const next = clone(before);
  next.spec.replicas = replicas ?? 0;
  const result = admit(t.type, t.namespace, t.name!, before, next, { manager: t.manager, subresource: "scale", applied: true });
  if (result.changed) recordUpdate(before, result.object, t.manager, apiVersionOf(t.type), true, "scale");
  return toScale(commit(ctx, t, result));
}
