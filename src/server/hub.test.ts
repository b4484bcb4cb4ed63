import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import type { RunEvent } from "../engine/index.ts";
import type { HealEvent } from "../heal/index.ts";
import { EventHub, type HubOptions } from "./hub.ts";

// The hub behind a real Bun server, read by real connections: fetch for a
// client that reads, a raw socket for one that never does.

const cleanup: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function serveHub(options: HubOptions = {}) {
  const hub = new EventHub(options);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, srv) => {
      srv.timeout(request, 0);
      const run = new URL(request.url).searchParams.get("run");
      return hub.subscribe(run ? { run } : {}) ?? new Response("full", { status: 503 });
    },
  });
  cleanup.push(() => {
    hub.close();
    return server.stop(true);
  });
  return { hub, url: `http://127.0.0.1:${server.port}` };
}

/** Reads server-sent events as a dashboard does (fetch, not EventSource). */
async function open(url: string) {
  const controller = new AbortController();
  cleanup.push(() => controller.abort());
  const response = await fetch(url, { signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    response,
    controller,
    /** The next event of `name` (comments and other events skipped), or null when the stream ends. */
    async next(name?: string): Promise<{ event: string; data: any } | null> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data && (!name || event === name)) return { event, data: JSON.parse(data) };
          if (name === ":" && block.startsWith(":")) return { event: ":", data: block };
          continue;
        }
        const { done, value } = await reader.read();
        if (done) return null;
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

const until = async (condition: () => boolean) => {
  while (!condition()) await Bun.sleep(5);
};

const opened = (incidentId: number): Extract<HealEvent, { type: "incident.opened" }> =>
  ({ type: "incident.opened", incidentId, title: "Broken", fingerprint: "fp", labels: { alertname: "Broken" }, source: "generic", receivedAt: 1, traceId: "4bf92f3577b34da6a3ce929d0e0e4736" }) as Extract<HealEvent, { type: "incident.opened" }>;
const runEvent = (event: Record<string, unknown>) => event as unknown as RunEvent;

describe("EventHub", () => {
  test("a client of the general feed gets heal, run and check events, step results without their output, and no step output", async () => {
    const { hub, url } = serveHub();
    const client = await open(url);
    expect(client.response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(client.response.headers.get("cache-control")).toBe("no-store");
    await until(() => hub.clients === 1);
    hub.heal(opened(3));
    // A storm's repeats and the processing's bookkeeping are not sent.
    hub.heal({ type: "notifications.processed", count: 1, lagMs: 1 });
    hub.heal({ type: "alert.received", source: "generic", fingerprint: "fp", status: "firing", alertname: "Broken", outcome: "repeat", receivedAt: 2, incidentId: 3 });
    hub.run(runEvent({ type: "step.started", runId: "r1", target: "t", phase: "main", index: 0, name: "s", action: "exec", description: "exec" }));
    hub.run(runEvent({ type: "step.output", runId: "r1", target: "t", step: "s", stream: "stdout", text: "secret-free output\n" }));
    hub.run(runEvent({ type: "step.finished", runId: "r1", target: "t", phase: "main", index: 0, name: "s", action: "exec", description: "exec", status: "ok", attempts: 1, startedAt: "", result: { ok: true, changed: false, exitCode: 0, stdout: "héllo", stderr: "", durationMs: 1, data: { big: "x" } } }));
    hub.check({ name: "api", status: "firing", consecutiveFailures: 3, consecutiveSuccesses: 0 });
    expect(await client.next()).toEqual({ event: "heal", data: opened(3) });
    expect((await client.next())!.data.type).toBe("step.started");
    const step = await client.next();
    expect(step!.event).toBe("run");
    expect(step!.data.result).toEqual({ ok: true, changed: false, exitCode: 0, durationMs: 1, stdoutBytes: 6, stderrBytes: 0 });
    expect(await client.next()).toEqual({ event: "check", data: { name: "api", status: "firing", consecutiveFailures: 3, consecutiveSuccesses: 0 } });
  });

  test("a client following a run gets that run's events and its output, with where each chunk goes, and nothing of other runs", async () => {
    const { hub, url } = serveHub();
    const follower = await open(`${url}/?run=r1`);
    await until(() => hub.clients === 1);
    hub.heal(opened(1));
    hub.run(runEvent({ type: "step.started", runId: "r2", target: "t", phase: "main", index: 0, name: "s", action: "exec", description: "exec" }));
    hub.run(runEvent({ type: "step.output", runId: "r2", target: "t", step: "s", stream: "stdout", text: "not mine" }));
    hub.run(runEvent({ type: "step.started", runId: "r1", target: "t", phase: "post", index: 2, name: "s", action: "exec", description: "exec" }));
    hub.run(runEvent({ type: "step.output", runId: "r1", target: "t", step: "s", stream: "stderr", text: "one" }));
    hub.run(runEvent({ type: "step.output", runId: "r1", target: "t", step: "s", stream: "stderr", text: "two" }));
    expect((await follower.next())!.data).toMatchObject({ type: "step.started", runId: "r1" });
    expect(await follower.next()).toEqual({ event: "output", data: { runId: "r1", target: "t", phase: "post", index: 2, step: "s", stream: "stderr", text: "one", offset: 0 } });
    expect((await follower.next())!.data).toMatchObject({ text: "two", offset: 3 });
  });

  test("a client that reads nothing is cut off once its backlog passes the bound, and every trace of it goes; others go on", async () => {
    const backlog = 256 * 1024;
    const { hub, url } = serveHub({ clientBacklogBytes: backlog });
    const reader = await open(url);
    // A raw connection that sends its request and then never reads a byte.
    const { port } = new URL(url);
    const stalled: Socket = connect(Number(port), "127.0.0.1");
    cleanup.push(() => void stalled.destroy());
    await new Promise<void>((resolve) => stalled.once("connect", () => resolve()));
    stalled.pause();
    stalled.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await until(() => hub.clients === 2);
    const big = "x".repeat(64 * 1024);
    let sent = 0;
    // The socket's buffers take some megabytes first; past them the stalled client's queue fills.
    while (hub.clients === 2 && sent < 20_000) {
      hub.heal({ ...opened(sent), title: big });
      sent++;
      // The reading client keeps up: it reads what was sent before the next event.
      expect((await reader.next("heal"))!.data.incidentId).toBe(sent - 1);
    }
    expect(hub.clients).toBe(1);
    expect(sent).toBeLessThan(20_000);
    hub.heal(opened(-1));
    expect((await reader.next("heal"))!.data.incidentId).toBe(-1);
  });

  test("a client that leaves is forgotten; a heartbeat comment comes while nothing happens; closing the hub ends every stream", async () => {
    const { hub, url } = serveHub({ heartbeatMs: 20 });
    const leaving = await open(url);
    const staying = await open(`${url}/?run=r9`);
    await until(() => hub.clients === 2);
    leaving.controller.abort();
    await until(() => hub.clients === 1);
    expect((await staying.next(":"))!.data).toBe(": ping");
    hub.close();
    expect(await staying.next("never")).toBeNull();
    expect(hub.clients).toBe(0);
    expect(hub.subscribe({})).toBeUndefined();
  });

  test("more clients than the bound are refused", async () => {
    const { hub, url } = serveHub({ maxClients: 1 });
    await open(url);
    await until(() => hub.clients === 1);
    const refused = await fetch(url);
    expect(refused.status).toBe(503);
  });

  test("which runs are live follows their start and end", () => {
    const hub = new EventHub();
    cleanup.push(() => hub.close());
    hub.run(runEvent({ type: "run.started", runId: "r", kind: "workflow", name: "w", targets: [], batches: [], vars: {}, dryRun: false }));
    expect(hub.isLive("r")).toBe(true);
    hub.run(runEvent({ type: "run.finished", runId: "r", status: "succeeded", counts: {}, durationMs: 1 }));
    expect(hub.isLive("r")).toBe(false);
  });
});
