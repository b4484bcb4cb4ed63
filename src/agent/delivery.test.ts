import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Delivery, type DeliveryOptions } from "./delivery.ts";
import type { AgentAlert } from "./rules.ts";
import { Spool } from "./spool.ts";

// The delivery client against a loopback endpoint that answers what each
// test scripts, for the answers a healthy opskit serve rarely gives (413,
// 400, 401); test/agent-delivery.test.ts runs it against the real server.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function endpoint(answer: (alerts: { labels: Record<string, string> }[], n: number) => number | Promise<number>) {
  const received: { labels: Record<string, string>; status: string }[][] = [];
  const authorizations: (string | null)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const body = (await request.json()) as { labels: Record<string, string>; status: string }[];
      authorizations.push(request.headers.get("authorization"));
      const status = await answer(body, received.length);
      if (status === 200) received.push(body);
      return Response.json(status === 200 ? { status: "accepted" } : { error: { message: `scripted ${status}` } }, { status });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, received, authorizations, stop: () => server.stop(true) };
}

function delivery(url: string, options: Partial<DeliveryOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "opskit-delivery-"));
  dirs.push(dir);
  const spool = new Spool(join(dir, "spool.db"), 1 << 20);
  const counts = { delivered: 0, failed: 0, rejected: 0 };
  const warnings: string[] = [];
  const d = new Delivery({
    url,
    token: "s3cret-token-value",
    timeoutMs: 2000,
    batchMax: 8,
    lingerMs: 0,
    spool,
    warn: (line) => warnings.push(line),
    delivered: (alerts) => (counts.delivered += alerts.length),
    failed: () => counts.failed++,
    rejected: (n) => (counts.rejected += n),
    ...options,
  });
  return { d, spool, counts, warnings };
}

const alert = (id: number): AgentAlert => ({ rule: "r", status: "firing", labels: { alertname: "A", id: String(id) }, annotations: {}, startsAt: 1000, raisedAt: Date.now() });

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(10);
  }
}

describe("agent delivery", () => {
  test("sends in order, in batches of at most batch.max, with the token as Bearer", async () => {
    const server = endpoint(() => 200);
    const { d, counts } = delivery(server.url);
    for (let i = 0; i < 30; i++) d.send(alert(i));
    await until(() => counts.delivered === 30);
    await d.stop();
    server.stop();
    expect(server.received.flat().map((a) => Number(a.labels.id))).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(Math.max(...server.received.map((b) => b.length))).toBeLessThanOrEqual(8);
    expect(new Set(server.authorizations)).toEqual(new Set(["Bearer s3cret-token-value"]));
  });

  test("a 413 halves the batch until it fits; an alert alone still too large is dropped and counted", async () => {
    const server = endpoint((alerts) => (alerts.length > 2 || alerts.some((a) => a.labels.id === "5") ? 413 : 200));
    const { d, counts, warnings } = delivery(server.url);
    for (let i = 0; i < 8; i++) d.send(alert(i));
    await until(() => counts.delivered + counts.rejected === 8);
    await d.stop();
    server.stop();
    expect(counts).toMatchObject({ delivered: 7, rejected: 1 });
    expect(server.received.flat().map((a) => a.labels.id)).toEqual(["0", "1", "2", "3", "4", "6", "7"]);
    expect(warnings.join("\n")).toContain("too large (413)");
  });

  test("a 400 batch is dropped and counted; a 401 is kept in the spool, said once, and delivered once the server takes the token", async () => {
    let refuse = true;
    const server = endpoint((alerts) => (alerts.some((a) => a.labels.id === "bad") ? 400 : refuse ? 401 : 200));
    const { d, counts, warnings, spool } = delivery(server.url);
    d.send({ ...alert(0), labels: { alertname: "A", id: "bad" } });
    await until(() => counts.rejected === 1);
    for (let i = 1; i <= 5; i++) d.send(alert(i));
    await until(() => counts.failed >= 2 && spool.count === 5);
    expect(warnings.filter((w) => w.includes("refused the token"))).toHaveLength(1);
    // The token never shows in what the agent says.
    expect(warnings.join("\n")).not.toContain("s3cret-token-value");
    refuse = false;
    await until(() => counts.delivered === 5, 15_000);
    expect(spool.count).toBe(0);
    expect(warnings.at(-1)).toContain("answers again");
    await d.stop();
    server.stop();
  });

  test("alerts raised faster than the server answers wait on disk, not in memory, and keep their order", async () => {
    const server = endpoint(async () => {
      await Bun.sleep(20);
      return 200;
    });
    const { d, counts, spool } = delivery(server.url);
    let spilled = 0;
    let held = 0;
    // 50 alerts every 10 ms against 8 per 20 ms taken.
    for (let i = 0; i < 400; i++) {
      d.send(alert(i));
      held = Math.max(held, d.pending);
      spilled = Math.max(spilled, spool.count);
      if (i % 50 === 49) await Bun.sleep(10);
    }
    await until(() => counts.delivered === 400, 30_000);
    expect(spilled).toBeGreaterThan(0);
    // At most ten batches wait in memory, and what arrives while one request is out (20 ms: three bursts of 50 at most).
    expect(held).toBeLessThanOrEqual(10 * 8 + 3 * 50);
    expect(d.pending).toBe(0);
    expect(spool.count).toBe(0);
    expect(server.received.flat().map((a) => Number(a.labels.id))).toEqual(Array.from({ length: 400 }, (_, i) => i));
    await d.stop();
    server.stop();
  });

  test("stop puts what is left in memory into the spool", async () => {
    const { d, spool } = delivery("http://127.0.0.1:9");
    for (let i = 0; i < 3; i++) d.send(alert(i));
    await d.stop(100);
    expect(spool.peek(10).map((r) => (JSON.parse(r.body) as AgentAlert).labels.id)).toEqual(["0", "1", "2"]);
  });
});
