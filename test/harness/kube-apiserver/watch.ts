/**
 * ?watch=true: newline-delimited JSON events (ADDED, MODIFIED, DELETED) on a
 * chunked response, from a resourceVersion (or from the current state with
 * synthetic ADDED events), filtered by namespace and selectors, ended after
 * timeoutSeconds. A resourceVersion older than the history kept gets an
 * ERROR event with a 410 Expired Status, as after an etcd compaction.
 */
import type { ServerResponse } from "node:http";
import { clone } from "./patch.ts";
import { apiVersionOf } from "./resources.ts";
import { fieldSelector, labelSelector } from "./selectors.ts";
import type { ObjectStore, StoredEvent } from "./store.ts";
import type { Target } from "./objects.ts";

export function serveWatch(store: ObjectStore, t: Target, res: ServerResponse, onEnd: (stop: () => void) => () => void): void {
  const labels = labelSelector(t.query.get("labelSelector") ?? undefined);
  const fields = fieldSelector(t.query.get("fieldSelector") ?? undefined);
  const inScope = (o: any) => (!t.type.namespaced || t.namespace === undefined || o?.metadata?.namespace === t.namespace) && (t.name === undefined || o?.metadata?.name === t.name);
  const matches = (o: any) => o !== undefined && inScope(o) && labels(o) && fields(o);
  const rvParam = t.query.get("resourceVersion") ?? "";
  const initial = t.query.get("sendInitialEvents") === "true";
  const bookmarks = t.query.get("allowWatchBookmarks") === "true";

  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache, private", "transfer-encoding": "chunked" });
  // Headers go out at once, as the real server's do: client-go waits for them without a deadline, and a
  // watch with nothing to report yet would otherwise hold kubectl past its --timeout.
  res.flushHeaders();
  const write = (type: string, object: any) => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
  };

  /** A change seen through this watch's filter: objects that move in or out of it are ADDED or DELETED for it. */
  const deliver = (e: StoredEvent) => {
    if (e.resource !== t.type) return;
    const now = matches(e.object);
    const was = e.type !== "ADDED" && matches(e.previous);
    if (e.type === "DELETED") return was && write("DELETED", e.object);
    if (now && was) return write("MODIFIED", e.object);
    if (now) return write("ADDED", e.object);
    if (was) return write("DELETED", e.object);
  };

  let unsubscribe = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const detach = onEnd(stop);
  res.on("close", () => {
    stop();
    detach();
  });

  if (rvParam === "" || rvParam === "0" || initial) {
    for (const o of store.list(t.type, t.namespace)) if (matches(o)) write("ADDED", clone(o));
    if (initial && bookmarks) {
      write("BOOKMARK", {
        kind: t.type.kind,
        apiVersion: apiVersionOf(t.type),
        metadata: { resourceVersion: String(store.resourceVersion), annotations: { "k8s.io/initial-events-end": "true" } },
      });
    }
  } else {
    const from = Number(rvParam);
    const replay = Number.isFinite(from) ? store.since(from) : undefined;
    if (!replay) {
      write("ERROR", { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `too old resource version: ${rvParam} (${store.oldestResumable})`, reason: "Expired", code: 410 });
      stop();
      return;
    }
    for (const e of replay) deliver(e);
  }
  unsubscribe = store.subscribe(deliver);
  const timeoutSeconds = Number(t.query.get("timeoutSeconds") ?? 0);
  if (timeoutSeconds > 0) timer = setTimeout(stop, timeoutSeconds * 1000);
}
