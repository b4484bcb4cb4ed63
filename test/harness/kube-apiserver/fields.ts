/**
 * Field ownership for server-side apply: each manager's set of fields,
 * written to metadata.managedFields in the FieldsV1 form
 * ({"f:spec":{"f:replicas":{}}}, list items as k:{"name":"app"}).
 */
import { clone, deepEqual, isObject, mergeKeys } from "./patch.ts";
import { statusFailure } from "./status.ts";

type Json = any;
/** A field path: elements "f:<field>" or "k:<json of the item's key>". */
export type FieldPath = string[];
const keyOf = (p: FieldPath) => JSON.stringify(p);
const pathOf = (k: string) => JSON.parse(k) as FieldPath;

/** metadata fields that have owners; the rest of metadata is the server's. */
const ownedMetadata = new Set(["labels", "annotations", "finalizers", "ownerReferences"]);

/** Every leaf field an object sets (maps recursed, keyed lists per item, other lists whole). */
export function leafFields(object: Json, keyedLists: boolean, skipStatus: boolean): Set<string> {
  const out = new Set<string>();
  const walk = (value: Json, path: FieldPath, field: string | undefined) => {
    if (isObject(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) {
        if (v === null || v === undefined) continue;
        if (path.length === 0 && (k === "apiVersion" || k === "kind" || (skipStatus && k === "status"))) continue;
        if (path.length === 1 && path[0] === "f:metadata" && !ownedMetadata.has(k)) continue;
        walk(v, [...path, `f:${k}`], k);
      }
      return;
    }
    const key = keyedLists && field ? mergeKeys[field] : undefined;
    if (Array.isArray(value) && key && value.every((item) => isObject(item) && key in item)) {
      for (const item of value) walk(item, [...path, `k:${JSON.stringify({ [key]: item[key] })}`], undefined);
      return;
    }
    if (path.length > 0) out.add(keyOf(path));
  };
  walk(object, [], undefined);
  return out;
}

function step(node: Json, element: string): Json {
  if (element.startsWith("f:")) return isObject(node) ? node[element.slice(2)] : undefined;
  if (!Array.isArray(node)) return undefined;
  const [k, v] = Object.entries(JSON.parse(element.slice(2)))[0]!;
  return node.find((item) => isObject(item) && deepEqual(item[k], v));
}

export function valueAt(object: Json, path: FieldPath): Json {
  let node = object;
  for (const element of path) {
    node = step(node, element);
    if (node === undefined) return undefined;
  }
  return node;
}

/** Removes a field, and list items and maps (below the top level) that it leaves empty. */
export function removeField(object: Json, path: FieldPath): void {
  const chain: Json[] = [object];
  for (const element of path.slice(0, -1)) {
    const next = step(chain[chain.length - 1], element);
    if (next === undefined) return;
    chain.push(next);
  }
  const last = path[path.length - 1]!;
  const parent = chain[chain.length - 1];
  if (last.startsWith("f:") && isObject(parent)) delete parent[last.slice(2)];
  for (let i = chain.length - 1; i >= 2; i--) {
    const node = chain[i];
    if (!isObject(node) || Object.keys(node).length > 0) break;
    const holder = chain[i - 1];
    const element = path[i - 1]!;
    if (element.startsWith("k:") && Array.isArray(holder)) holder.splice(holder.indexOf(node), 1);
    else if (element.startsWith("f:") && isObject(holder)) delete holder[element.slice(2)];
  }
}

export function toFieldsV1(fields: Set<string>): Json {
  const root: Json = {};
  for (const key of [...fields].sort()) {
    let node = root;
    for (const element of pathOf(key)) {
      node[element] ??= element.startsWith("k:") ? { ".": {} } : {};
      node = node[element];
    }
  }
  return root;
}

export function fromFieldsV1(tree: Json): Set<string> {
  const out = new Set<string>();
  const walk = (node: Json, path: FieldPath) => {
    const children = isObject(node) ? Object.keys(node).filter((k) => k !== ".") : [];
    if (children.length === 0) {
      if (path.length > 0) out.add(keyOf(path));
      return;
    }
    for (const c of children) walk(node[c], [...path, c]);
  };
  walk(tree, []);
  return out;
}

export interface ManagedEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: Json;
  subresource?: string;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const entries = (object: Json): ManagedEntry[] => (Array.isArray(object?.metadata?.managedFields) ? object.metadata.managedFields : []);

function setEntries(object: Json, list: ManagedEntry[]) {
  const kept = list.filter((e) => fromFieldsV1(e.fieldsV1).size > 0);
  if (kept.length) object.metadata.managedFields = kept;
  else delete object.metadata.managedFields;
}

/** Records an Update by `manager`: it owns what it changed, and others stop owning it. */
export function recordUpdate(before: Json, after: Json, manager: string, apiVersion: string, keyedLists: boolean, subresource?: string): void {
  const skipStatus = subresource !== "status";
  const oldFields = before ? leafFields(before, keyedLists, skipStatus) : new Set<string>();
  const newFields = leafFields(after, keyedLists, skipStatus);
  const changed = new Set<string>();
  for (const f of newFields) if (!oldFields.has(f) || !deepEqual(valueAt(before, pathOf(f)), valueAt(after, pathOf(f)))) changed.add(f);
  const removed = [...oldFields].filter((f) => !newFields.has(f));
  const list = entries(before).map((e) => {
    const owned = fromFieldsV1(e.fieldsV1);
    for (const f of [...changed, ...removed]) owned.delete(f);
    return { ...e, fieldsV1: toFieldsV1(owned) };
  });
  let mine = list.find((e) => e.manager === manager && e.operation === "Update" && e.subresource === subresource && e.apiVersion === apiVersion);
  if (!mine && changed.size === 0) return setEntries(after, list);
  if (!mine) list.push((mine = { manager, operation: "Update", apiVersion, time: now(), fieldsType: "FieldsV1", fieldsV1: {}, ...(subresource ? { subresource } : {}) }));
  const owned = fromFieldsV1(mine.fieldsV1);
  for (const f of changed) owned.add(f);
  mine.fieldsV1 = toFieldsV1(owned);
  if (changed.size) mine.time = now();
  setEntries(after, list);
}

/** Deep merge of an applied configuration: maps merged, keyed lists merged per item, the rest replaced. */
function mergeApplied(current: Json, applied: Json, keyedLists: boolean, field?: string): Json {
  if (isObject(applied)) {
    const out: Record<string, Json> = isObject(current) ? { ...current } : {};
    for (const [k, v] of Object.entries(applied)) if (v !== null && v !== undefined) out[k] = mergeApplied(out[k], v, keyedLists, k);
    return out;
  }
  const key = keyedLists && field ? mergeKeys[field] : undefined;
  if (Array.isArray(applied) && key && applied.every((i) => isObject(i) && key in i)) {
    const live: Json[] = Array.isArray(current) ? current.filter((i) => isObject(i) && key in i) : [];
    return mergeKeyedList(live, applied, (i) => JSON.stringify(i[key]), keyedLists);
  }
  return clone(applied);
}

/**
 * structured-merge-diff's order for a keyed list: live items the
 * configuration does not name stay where they were, items both name follow
 * the configuration's order, new items come where the configuration has them.
 */
function mergeKeyedList(live: Json[], applied: Json[], keyOf: (item: Json) => string, keyedLists: boolean): Json[] {
  const liveKeys = new Set(live.map(keyOf));
  const appliedKeys = new Set(applied.map(keyOf));
  const shared = applied.map(keyOf).filter((k) => liveKeys.has(k));
  let next = shared.shift();
  const merged = new Set<string>();
  const out: Json[] = [];
  let l = 0;
  let r = 0;
  while (l < live.length || r < applied.length) {
    if (l < live.length && r < applied.length) {
      const k = keyOf(live[l]);
      if (k === keyOf(applied[r])) {
        merged.add(k);
        out.push(mergeApplied(live[l], applied[r], keyedLists));
        l++;
        r++;
        next = shared.shift();
        continue;
      }
      if (appliedKeys.has(k) && next !== undefined && next !== k) {
        l++;
        continue;
      }
    }
    if (l < live.length) {
      const k = keyOf(live[l]);
      if (!appliedKeys.has(k)) {
        out.push(live[l++]);
        continue;
      }
      if (merged.has(k)) {
        l++;
        continue;
      }
    }
    if (r < applied.length) {
      const k = keyOf(applied[r]);
      merged.add(k);
      out.push(mergeApplied(live.find((i) => keyOf(i) === k), applied[r], keyedLists));
      r++;
      if (next === k) next = shared.shift();
    }
  }
  return out;
}

/**
 * Server-side apply of `applied` by `manager` onto `current` (undefined to
 * create). Fields another manager owns with a different value conflict
 * (409) unless `force`; fields this manager applied before and no longer
 * applies are removed when nobody else owns them.
 */
export function applyConfiguration(current: Json, applied: Json, manager: string, force: boolean, keyedLists: boolean, subresource?: string): Json {
  const skipStatus = subresource !== "status";
  const appliedFields = leafFields(applied, keyedLists, skipStatus);
  const list = entries(current).map((e) => ({ ...e, owned: fromFieldsV1(e.fieldsV1) }));
  const isMine = (e: { manager: string; operation: string; subresource?: string }) => e.manager === manager && e.operation === "Apply" && e.subresource === subresource;
  const conflicts: { manager: string; apiVersion: string; field: FieldPath }[] = [];
  for (const f of appliedFields) {
    const path = pathOf(f);
    if (deepEqual(valueAt(current, path), valueAt(applied, path))) continue;
    for (const e of list) if (!isMine(e) && e.owned.has(f)) (force ? e.owned.delete(f) : conflicts.push({ manager: e.manager, apiVersion: e.apiVersion, field: path }));
  }
  if (conflicts.length) throw applyConflict(conflicts);
  const previous = list.find(isMine)?.owned ?? new Set<string>();
  let merged = mergeApplied(current ?? {}, applied, keyedLists);
  for (const f of previous) {
    if (appliedFields.has(f) || list.some((e) => !isMine(e) && e.owned.has(f))) continue;
    removeField(merged, pathOf(f));
  }
  merged = clone(merged);
  const apiVersion = String(applied.apiVersion ?? current?.apiVersion ?? "");
  const kept: ManagedEntry[] = list.filter((e) => !isMine(e)).map(({ owned, ...e }) => ({ ...e, fieldsV1: toFieldsV1(owned) }));
  kept.push({ manager, operation: "Apply", apiVersion, time: now(), fieldsType: "FieldsV1", fieldsV1: toFieldsV1(appliedFields), ...(subresource ? { subresource } : {}) });
  merged.metadata ??= {};
  setEntries(merged, kept);
  return merged;
}

const dotted = (path: FieldPath) => path.map((e) => (e.startsWith("f:") ? `.${e.slice(2)}` : `[${e.slice(2).replace(/^\{|\}$/g, "").replace(/"/g, "").replace(":", "=")}]`)).join("");

function applyConflict(conflicts: { manager: string; apiVersion: string; field: FieldPath }[]) {
  const lines = conflicts.map((c) => `conflict with "${c.manager}" using ${c.apiVersion}: ${dotted(c.field)}`);
  const message = conflicts.length === 1 ? `Apply failed with 1 conflict: ${lines[0]}` : `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
  return statusFailure(409, "Conflict", message, {
    causes: conflicts.map((c) => ({ reason: "FieldManagerConflict", message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: dotted(c.field) })),
  });
}
