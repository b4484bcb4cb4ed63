/** The three patch formats of PATCH requests: JSON patch, JSON merge patch and strategic merge patch. */
import { statusFailure } from "./status.ts";

type Json = any;

export const isObject = (v: unknown): v is Record<string, any> => typeof v === "object" && v !== null && !Array.isArray(v);
export const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * Lists merged by key in strategic merge patches and owned per item in
 * server-side apply, by field name: the subset of the built-in types'
 * patchMergeKey tags that Deployments, Pods and their templates use.
 */
export const mergeKeys: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  ports: "containerPort",
  imagePullSecrets: "name",
  conditions: "type",
};

/** Primitive lists with patchStrategy "merge": a patch adds to them instead of replacing them. */
const mergedPrimitiveLists = new Set(["finalizers"]);

const invalidPatch = (message: string) => statusFailure(422, "Invalid", `the server rejected our request due to an error in our request: ${message}`);

// ---- RFC 7386 JSON merge patch ----

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- RFC 6902 JSON patch ----

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw invalidPatch(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; key: string } {
  let node = doc;
  for (const t of tokens.slice(0, -1)) {
    node = Array.isArray(node) ? node[arrayIndex(node, t, path, false)] : isObject(node) ? node[t] : undefined;
    if (node === undefined) throw invalidPatch(`doc is missing path: "${path}"`);
  }
  return { parent: node, key: tokens[tokens.length - 1]! };
}

function arrayIndex(list: Json[], token: string, path: string, forInsert: boolean): number {
  if (forInsert && token === "-") return list.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw invalidPatch(`invalid array index in "${path}"`);
  const i = Number(token);
  if (i > list.length || (!forInsert && i === list.length)) throw invalidPatch(`array index out of bounds in "${path}"`);
  return i;
}

function read(doc: Json, path: string): Json {
  let node = doc;
  for (const t of pointer(path)) {
    node = Array.isArray(node) ? node[arrayIndex(node, t, path, false)] : isObject(node) && t in node ? node[t] : undefined;
    if (node === undefined) throw invalidPatch(`doc is missing path: "${path}"`);
  }
  return node;
}

function add(doc: Json, path: string, value: Json): Json {
  const tokens = pointer(path);
  if (tokens.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, true), 0, clone(value));
  else if (isObject(parent)) parent[key] = clone(value);
  else throw invalidPatch(`doc is missing path: "${path}"`);
  return doc;
}

function remove(doc: Json, path: string): Json {
  const tokens = pointer(path);
  if (tokens.length === 0) throw invalidPatch("cannot remove the whole document");
  const { parent, key } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, false), 1);
  else if (isObject(parent) && key in parent) delete parent[key];
  else throw invalidPatch(`unable to remove nonexistent key: ${key}: missing value`);
  return doc;
}

export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw statusFailure(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc = clone(target);
  for (const op of operations) {
    if (!isObject(op) || typeof op.path !== "string") throw invalidPatch("operation without a path");
    switch (op.op) {
      case "add":
        doc = add(doc, op.path, op.value);
        break;
      case "remove":
        doc = remove(doc, op.path);
        break;
      case "replace":
        read(doc, op.path);
        doc = add(remove(doc, op.path), op.path, op.value);
        break;
      case "move": {
        const value = read(doc, String(op.from));
        doc = add(remove(doc, String(op.from)), op.path, value);
        break;
      }
      case "copy":
        doc = add(doc, op.path, read(doc, String(op.from)));
        break;
      case "test":
        if (!deepEqual(read(doc, op.path), op.value)) throw invalidPatch(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw invalidPatch(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

// ---- strategic merge patch ----

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === "delete") return undefined;
  const replace = patch.$patch === "replace";
  const out: Record<string, Json> = isObject(target) && !replace ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys" || k.startsWith("$setElementOrder/")) continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = out[field].filter((x: Json) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(k, out[k], v);
    else if (isObject(v)) {
      const merged = strategicMergePatch(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(out)) if (!patch.$retainKeys.includes(k) && !(k in patch)) delete out[k];
  }
  return out;
}

function mergeList(field: string, current: Json, patch: Json[]): Json[] {
  const existing: Json[] = Array.isArray(current) ? current : [];
  if (mergedPrimitiveLists.has(field)) return [...existing, ...patch.filter((p) => !existing.some((e: Json) => deepEqual(e, p)))];
  const key = mergeKeys[field];
  if (!key || !patch.every(isObject)) return clone(patch);
  if (patch.some((p) => p.$patch === "replace")) return clone(patch.filter((p) => p.$patch !== "replace"));
  const same = (a: Json, b: Json) => isObject(a) && isObject(b) && deepEqual(a[key], b[key]);
  const patched: Json[] = [];
  for (const item of patch) {
    if (item.$patch === "delete") continue;
    const at = patched.findIndex((p) => same(p, item));
    const base = at >= 0 ? patched[at] : existing.find((e) => same(e, item));
    const merged = strategicMergePatch(base ?? {}, item);
    if (at >= 0) patched[at] = merged;
    else patched.push(merged);
  }
  const serverOnly = existing.filter((e) => !patch.some((p) => same(e, p)));
  return interleave(serverOnly, patched, existing, same);
}

/**
 * apimachinery's mergeSortedSlice: the patch's items keep their order, the
 * items only the server had keep theirs, and a server item goes before a
 * patch item only when both were in the live list in that order.
 */
function interleave(serverOnly: Json[], patched: Json[], live: Json[], same: (a: Json, b: Json) => boolean): Json[] {
  const index = (item: Json) => live.findIndex((l) => same(l, item));
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < patched.length) {
    if (j >= patched.length) out.push(serverOnly[i++]);
    else if (i >= serverOnly.length) out.push(patched[j++]);
    else {
      const li = index(serverOnly[i]);
      const ri = index(patched[j]);
      out.push(li >= 0 && ri >= 0 && li < ri ? serverOnly[i++] : patched[j++]);
    }
  }
  return out;
}
