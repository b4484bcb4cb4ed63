/**
 * Just enough OpenAPI for kubectl's own checks before a write:
 * - v3 (kubectl >= 1.27): per group-version documents whose PATCH operations
 *   name the fieldValidation parameter, so kubectl leaves validation to the
 *   server (fieldValidation=Strict) as it does with a real one;
 * - v2 (older kubectl, protobuf): a document without definitions, so
 *   client-side validation finds no schema and lets the object through, as
 *   it does for custom resources without one.
 * No schemas are served: the server does not publish models of its types.
 */
import { createHash } from "node:crypto";
import type { ResourceRegistry, ResourceType } from "./resources.ts";
import { serverVersion } from "./version.ts";

export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

const gvPath = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);

const queryParameter = (name: string, type = "string") => ({ name, in: "query", schema: { type, uniqueItems: true } });

function itemPaths(t: ResourceType) {
  const base = `/${gvPath(t.group, t.version)}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.resource}`;
  const gvk = { group: t.group, version: t.version, kind: t.kind };
  const op = (action: string, id: string, params: object[]) => ({
    operationId: `${id}${t.kind}`,
    parameters: params,
    responses: { "200": { description: "OK" } },
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
  });
  const writeParams = [queryParameter("dryRun"), queryParameter("fieldManager"), queryParameter("fieldValidation")];
  const pathParams = [
    { name: "name", in: "path", required: true, schema: { type: "string", uniqueItems: true } },
    ...(t.namespaced ? [{ name: "namespace", in: "path", required: true, schema: { type: "string", uniqueItems: true } }] : []),
  ];
  return {
    [base]: {
      get: op("list", "list", [queryParameter("labelSelector"), queryParameter("fieldSelector"), queryParameter("watch", "boolean")]),
      post: op("post", "create", writeParams),
      parameters: t.namespaced ? [pathParams[1]] : [],
    },
    [`${base}/{name}`]: {
      get: op("get", "read", []),
      put: op("put", "replace", writeParams),
      patch: op("patch", "patch", [...writeParams, queryParameter("force", "boolean")]),
      delete: op("delete", "delete", [queryParameter("dryRun")]),
      parameters: pathParams,
    },
  };
}

export function openApiV3Group(registry: ResourceRegistry, path: string) {
  const gv = [{ group: "", version: "v1" }, ...registry.groups().flatMap((g) => g.versions.map((version) => ({ group: g.name, version })))].find((x) => gvPath(x.group, x.version) === path);
  if (!gv) return undefined;
  const paths = Object.assign({}, ...registry.inGroupVersion(gv.group, gv.version).map(itemPaths));
  return { openapi: "3.0.0", info: { title: "Kubernetes", version: serverVersion.gitVersion }, paths, components: { schemas: {} } };
}

export function openApiV3Root(registry: ResourceRegistry) {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const p of ["api/v1", ...registry.groups().flatMap((g) => g.versions.map((v) => gvPath(g.name, v)))]) {
    const hash = createHash("sha512").update(JSON.stringify(openApiV3Group(registry, p))).digest("hex").slice(0, 128).toUpperCase();
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  }
  return { paths };
}

// ---- v2: gnostic's openapi.v2.Document in protobuf ----

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

const field = (number: number, bytes: number[] | Uint8Array) => [...varint((number << 3) | 2), ...varint(bytes.length), ...bytes];
const text = (s: string) => [...new TextEncoder().encode(s)];

/** Document { swagger = 1; info = 2 { title = 1; version = 2 }; paths = 8 }. */
export function openApiV2Protobuf(): Uint8Array {
  const info = [...field(1, text("Kubernetes")), ...field(2, text(serverVersion.gitVersion))];
  return new Uint8Array([...field(1, text("2.0")), ...field(2, info), ...field(8, [])]);
}

export function openApiV2Json() {
  return { swagger: "2.0", info: { title: "Kubernetes", version: serverVersion.gitVersion }, paths: {}, definitions: {} };
}
