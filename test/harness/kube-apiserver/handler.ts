/** Routing of API requests: discovery, resource paths, verbs, content negotiation, authorization. */
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createObject, deleteCollection, deleteObject, getObject, listBody, listObjects, patchObject, updateObject,
  type ObjectContext, type Reply, type Target,
} from "./objects.ts";
import { aggregatedDiscovery, apiGroupList, apiGroupOf, apiResourceList, apiVersions, type ResourceRegistry, type ResourceType } from "./resources.ts";
import { ApiError, badRequest, forbidden, statusFailure } from "./status.ts";
import { toTable } from "./table.ts";
import { OPENAPI_V2_PROTOBUF, openApiV2Json, openApiV2Protobuf, openApiV3Group, openApiV3Root } from "./openapi.ts";
import { serverVersion } from "./version.ts";
import { serveWatch } from "./watch.ts";

export interface HandlerState extends ObjectContext {
  registry: ResourceRegistry;
  serverAddress: string;
  aggregatedDiscovery: boolean;
  /** Users who may only read (get, list, watch). */
  readOnlyUsers: Set<string>;
  /** Users who may do everything; any other authenticated user may only use discovery. */
  adminUsers: Set<string>;
  /** Registers a watch's stop function for server shutdown; returns a deregistration. */
  trackWatch(stop: () => void): () => void;
}


interface MediaRange {
  type: string;
  params: Record<string, string>;
}

function mediaRanges(accept: string | undefined): MediaRange[] {
  if (!accept) return [{ type: "application/json", params: {} }];
  return accept.split(",").map((part) => {
    const [type, ...rest] = part.split(";").map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of rest) {
      const [k, v] = p.split("=");
      if (k && v !== undefined) params[k.trim()] = v.trim();
    }
    return { type: (type ?? "").toLowerCase(), params };
  });
}

const plainJson = (r: MediaRange) => !r.params.as && ["application/json", "application/*", "*/*"].includes(r.type);

/** "table" when the client asks for server-side printing first, "json" for plain JSON, undefined when nothing acceptable. */
function negotiateObject(accept: string | undefined): "table" | "json" | undefined {
  for (const r of mediaRanges(accept)) {
    if (r.type === "application/json" && r.params.as === "Table" && r.params.g === "meta.k8s.io" && (r.params.v === "v1" || r.params.v === "v1beta1")) return "table";
    if (plainJson(r)) return "json";
  }
  return undefined;
}

function negotiateDiscovery(accept: string | undefined): "v2" | "v2beta1" | "json" | undefined {
  for (const r of mediaRanges(accept)) {
    if (r.type === "application/json" && r.params.g === "apidiscovery.k8s.io" && r.params.as === "APIGroupDiscoveryList" && (r.params.v === "v2" || r.params.v === "v2beta1")) return r.params.v;
    if (plainJson(r)) return "json";
  }
  return undefined;
}

const notAcceptable = () => statusFailure(406, "NotAcceptable", "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io");
const pageNotFound = () => statusFailure(404, "NotFound", "the server could not find the requested resource", {});

function send(res: ServerResponse, reply: Reply, contentType = "application/json") {
  const text = typeof reply.body === "string" || reply.body instanceof Uint8Array ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, { "content-type": contentType, "cache-control": "no-cache, private" });
  res.end(text);
}

export function sendError(res: ServerResponse, error: unknown) {
  if (error instanceof ApiError) return send(res, { status: error.code, body: error.body });
  const message = error instanceof Error ? error.message : String(error);
  send(res, { status: 500, body: statusFailure(500, "InternalError", `Internal error occurred: ${message}`).body });
}

function discovery(state: HandlerState, segments: string[], accept: string | undefined, res: ServerResponse): boolean {
  const [root, group, version] = segments;
  const isDiscovery = (root === "api" && segments.length <= 2) || (root === "apis" && segments.length <= 3);
  if (!isDiscovery) return false;
  if (segments.length === 1) {
    const form = negotiateDiscovery(accept);
    if (!form) throw notAcceptable();
    if (form !== "json" && state.aggregatedDiscovery) {
      send(res, { status: 200, body: aggregatedDiscovery(state.registry, root === "api", form) }, `application/json;g=apidiscovery.k8s.io;v=${form};as=APIGroupDiscoveryList`);
      return true;
    }
    send(res, { status: 200, body: root === "api" ? apiVersions(state.serverAddress) : apiGroupList(state.registry) });
    return true;
  }
  if (root === "api") {
    if (group !== "v1") throw pageNotFound();
    send(res, { status: 200, body: apiResourceList(state.registry, "", "v1") });
    return true;
  }
  const g = state.registry.groups().find((x) => x.name === group);
  if (!g || (version !== undefined && !g.versions.includes(version))) throw pageNotFound();
  send(res, { status: 200, body: version === undefined ? apiGroupOf(g) : apiResourceList(state.registry, group!, version) });
  return true;
}

interface ResourcePath {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** /api/v1/... or /apis/<group>/<version>/...: [namespaces/<ns>/]<resource>[/<name>[/<subresource>]]. */
function resourcePath(registry: ResourceRegistry, segments: string[]): ResourcePath {
  const [root] = segments;
  const group = root === "api" ? "" : segments[1]!;
  const version = root === "api" ? segments[1]! : segments[2]!;
  const rest = segments.slice(root === "api" ? 2 : 3);
  if (rest[0] === "namespaces" && rest.length >= 3) {
    const type = registry.find(group, version, rest[2]!);
    if (type?.namespaced && rest.length <= 5) return check({ type, namespace: rest[1], name: rest[3], subresource: rest[4] });
  }
  const type = registry.find(group, version, rest[0] ?? "");
  if (!type || rest.length > 3) throw pageNotFound();
  if (type.namespaced && rest.length > 1) throw pageNotFound();
  return check({ type, name: rest[1], subresource: rest[2] });
}

function check(p: ResourcePath): ResourcePath {
  if (p.subresource !== undefined && !p.type.subresources.includes(p.subresource)) throw pageNotFound();
  if (p.name === "" || p.namespace === "") throw pageNotFound();
  return p;
}

function verbOf(method: string, p: ResourcePath, query: URLSearchParams): string {
  const watch = query.get("watch") === "true" || query.get("watch") === "1";
  switch (method) {
    case "GET":
      return watch ? "watch" : p.name === undefined ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return p.name === undefined ? "deletecollection" : "delete";
    default:
      return "";
  }
}

function authorize(state: HandlerState, user: string, verb: string, p: ResourcePath) {
  if (state.adminUsers.has(user)) return;
  if (state.readOnlyUsers.has(user) && ["get", "list", "watch"].includes(verb)) return;
  throw forbidden(user, verb, p.type, p.subresource, p.namespace, p.name);
}

function parseBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw badRequest(`Object 'Kind' is missing in '${body.toString("utf8").slice(0, 80)}': ${(error as Error).message}`);
  }
}

const mediaType = (contentType: string | undefined) => (contentType ?? "").split(";")[0]!.trim().toLowerCase();

/** Answers one authenticated request; `segments` are the decoded path segments. */
export function handle(state: HandlerState, req: IncomingMessage, res: ServerResponse, segments: string[], query: URLSearchParams, body: Buffer, user: string): void {
  const path = `/${segments.join("/")}`;
  if (path === "/version" || path === "/version/") return send(res, { status: 200, body: serverVersion });
  if (["/healthz", "/livez", "/readyz"].includes(path)) return send(res, { status: 200, body: "ok" }, "text/plain; charset=utf-8");
  if (path === "/openapi/v2") {
    // The "@" in the media type kubectl asks for is not valid in a Content-Type that Go's mime package parses; the real server answers application/octet-stream.
    const protobuf = (req.headers.accept ?? "").includes(OPENAPI_V2_PROTOBUF);
    return protobuf ? send(res, { status: 200, body: openApiV2Protobuf() }, "application/octet-stream") : send(res, { status: 200, body: openApiV2Json() });
  }
  if (path === "/openapi/v3") return send(res, { status: 200, body: openApiV3Root(state.registry) });
  if (segments[0] === "openapi" && segments[1] === "v3") {
    const doc = openApiV3Group(state.registry, segments.slice(2).join("/"));
    if (!doc) throw pageNotFound();
    return send(res, { status: 200, body: doc });
  }
  if (segments[0] !== "api" && segments[0] !== "apis") throw pageNotFound();
  const method = req.method ?? "GET";
  if (method === "GET" && discovery(state, segments, req.headers.accept, res)) return;
  const p = resourcePath(state.registry, segments);
  const verb = verbOf(method, p, query);
  if (!verb) throw statusFailure(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
  authorize(state, user, verb, p);
  const fieldManager = query.get("fieldManager");
  if (fieldManager !== null && (fieldManager.length === 0 || fieldManager.length > 128)) throw badRequest("fieldManager: Invalid value: the field manager must be between 1 and 128 characters");
  const manager = fieldManager ?? (req.headers["user-agent"] ?? "unknown").split("/")[0]!;
  const t: Target = { ...p, query, manager };
  if (p.subresource && p.name === undefined) throw pageNotFound();
  switch (verb) {
    case "watch":
      return serveWatch(state.store, t, res, state.trackWatch);
    case "get":
    case "list": {
      const form = negotiateObject(req.headers.accept);
      if (!form) throw notAcceptable();
      if (verb === "get") {
        const reply = getObject(state, t);
        if (form === "table" && !p.subresource) return send(res, { status: 200, body: toTable(p.type.resource, [reply.body], String((reply.body as any).metadata.resourceVersion), query.get("includeObject") ?? undefined) });
        return send(res, reply);
      }
      const list = listObjects(state, t);
      if (form === "table") return send(res, { status: 200, body: toTable(p.type.resource, list.items, list.resourceVersion, query.get("includeObject") ?? undefined, list.continueToken) });
      return send(res, { status: 200, body: listBody(t, list) });
    }
    case "create":
      if (p.name !== undefined) throw statusFailure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
      return send(res, createObject(state, t, parseBody(body)));
    case "update":
      if (p.name === undefined) throw statusFailure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
      return send(res, updateObject(state, t, parseBody(body)));
    case "patch":
      if (p.name === undefined) throw statusFailure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
      return send(res, patchObject(state, t, mediaType(req.headers["content-type"]), body.toString("utf8")));
    case "delete":
      return send(res, deleteObject(state, t, parseBody(body)));
    case "deletecollection":
      return send(res, deleteCollection(state, t));
  }
}
