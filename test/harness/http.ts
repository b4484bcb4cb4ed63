import type { Server } from "bun";

/**
 * A real HTTP(S) server on loopback with routes for every outcome a probe
 * must tell apart:
 *   /ok            200 "ok"
 *   /status/N      status N
 *   /json          {"status":"UP","version":"1.4.2","checks":[...]}
 *   /slow?ms=N     answers after N ms
 *   /chunked       a chunked body
 *   /headers       echoes request headers as JSON
 *   /flaky?key=K&fail=N   503 for the first N requests with key K, then 200
 *   /redirect?to=URL&status=N   status N (302) with Location: URL as given
 *   /chain/N?status=S   S (302) to /chain/N-1 (a relative Location) down to
 *                  /chain/0, which echoes the request: {method, body, headers}
 */
export function startHttpServer(tls?: { cert: string; key: string }): Server<undefined> {
  const flaky = new Map<string, number>();
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: tls ? { cert: Bun.file(tls.cert), key: Bun.file(tls.key) } : undefined,
    async fetch(request) {
      const url = new URL(request.url);
      const chain = /^\/chain\/(\d+)$/.exec(url.pathname);
      if (chain && chain[1] !== "0") return new Response(null, { status: Number(url.searchParams.get("status") ?? "302"), headers: { location: `${Number(chain[1]) - 1}${url.search}` } });
      if (chain) return Response.json({ method: request.method, body: await request.text(), headers: Object.fromEntries(request.headers) });
      if (url.pathname === "/redirect") return new Response(null, { status: Number(url.searchParams.get("status") ?? "302"), headers: { location: url.searchParams.get("to") ?? "/ok" } });
      const status = /^\/status\/(\d{3})$/.exec(url.pathname);
      if (status) return new Response(`status ${status[1]}\n`, { status: Number(status[1]) });
      switch (url.pathname) {
        case "/ok":
        case "/":
          return new Response("ok\n");
        case "/json":
          return Response.json({ status: "UP", version: "1.4.2", checks: [{ name: "db", ok: true }] });
        case "/slow":
          await Bun.sleep(Number(url.searchParams.get("ms") ?? "1000"));
          return new Response("slow ok\n");
        case "/chunked":
          return new Response(
            new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode("part one, "));
                controller.enqueue(new TextEncoder().encode("part two"));
                controller.close();
              },
            }),
          );
        case "/flaky": {
          const key = url.searchParams.get("key") ?? "";
          const seen = (flaky.get(key) ?? 0) + 1;
          flaky.set(key, seen);
          return seen <= Number(url.searchParams.get("fail") ?? "1") ? new Response("warming up\n", { status: 503 }) : new Response("ok\n");
        }
        case "/headers":
          return Response.json(Object.fromEntries(request.headers), { headers: { "x-method": request.method } });
        default:
          return new Response("not found\n", { status: 404 });
      }
    },
  });
}
