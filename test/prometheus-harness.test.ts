import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { mkdir, writeFile } from "node:fs/promises";
import { repoRoot } from "./harness/cli.ts";
import { refusedPort } from "./harness/net.ts";
import { queryPrometheus, startAlertmanager, startPrometheus, type TestServer } from "./harness/prometheus.ts";

// Proves the Prometheus/Alertmanager harness without opskit: a real scrape
// target dies and comes back, and real webhook notifications arrive for both.
// OPSKIT_WRITE_FIXTURES=1 saves the received payloads as the parser fixtures.

const fixtureDir = `${repoRoot}testdata/alertmanager`;
const token = "harness-test-token";
const rules = `groups:
  - name: demo
    rules:
      - alert: DemoDown
        expr: up{job="demo"} == 0
        for: 0s
        labels:
          severity: critical
        annotations:
          summary: demo service {{ $labels.instance }} is down
`;

interface Notification {
  receivedAt: number;
  authorization: string | null;
  body: Record<string, any>;
}

const notifications: Notification[] = [];
let receiver: Server<undefined>;
let demoPort: number;
let demo: { stop(): Promise<void> } | undefined;
let alertmanager: TestServer | undefined;
let prometheus: TestServer | undefined;

/** `opskit demo-service` as its own process, so stopping it is a real crash for the scraper. */
async function spawnDemoService(port: number): Promise<{ stop(): Promise<void> }> {
  const child = Bun.spawn([process.execPath, `${repoRoot}src/cli/main.ts`, "demo-service", "--name", "demo", "--listen", `127.0.0.1:${port}`], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const { value } = await child.stdout.getReader().read();
  const line = new TextDecoder().decode(value);
  if (!line.startsWith("demo service demo listening on")) throw new Error(`demo service did not start: ${line}`);
  return {
    stop: async () => {
      child.kill("SIGKILL");
      await child.exited;
    },
  };
}

async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await check();
    if (found !== undefined) return found;
    await Bun.sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; notifications so far: ${JSON.stringify(notifications.map((n) => n.body.status))}`);
}

/** Every key path with the type of its value, to tell whether two payloads have the same shape. */
function shape(value: unknown, path = "$"): string[] {
  if (Array.isArray(value)) return value.length ? shape(value[0], `${path}[]`) : [`${path}: []`];
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    // Label and annotation names are data, not structure.
    if (/\.(labels|annotations|commonLabels|commonAnnotations|groupLabels)$/.test(path)) return [`${path}: map`];
    return entries.flatMap(([key, inner]) => shape(inner, `${path}.${key}`)).sort();
  }
  return [`${path}: ${value === null ? "null" : typeof value}`];
}

beforeAll(async () => {
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      if (request.method !== "POST") return new Response("not found\n", { status: 404 });
      notifications.push({ receivedAt: performance.now(), authorization: request.headers.get("authorization"), body: (await request.json()) as Record<string, any> });
      return new Response("ok\n");
    },
  });
  demoPort = await refusedPort();
  demo = await spawnDemoService(demoPort);
  alertmanager = await startAlertmanager({ webhookUrl: `http://127.0.0.1:${receiver.port}/alerts`, bearerToken: token });
  prometheus = await startPrometheus({ scrapeTargets: [{ job: "demo", targets: [`127.0.0.1:${demoPort}`] }], rules, alertmanagerUrl: alertmanager.url });
}, 60_000);

afterAll(async () => {
  await Promise.all([demo?.stop(), prometheus?.stop(), alertmanager?.stop()]);
  receiver?.stop(true);
}, 30_000);

test(
  "a killed scrape target fires DemoDown through Alertmanager to the webhook, and its restart resolves it",
  async () => {
    await waitFor("Prometheus to scrape the demo service", async () => ((await queryPrometheus(prometheus!.url, 'up{job="demo"} == 1')).length ? true : undefined));
    expect(notifications).toHaveLength(0);

    const killedAt = performance.now();
    await demo!.stop();
    const firing = await waitFor("a firing notification", () => notifications.find((n) => n.body.status === "firing"));
    console.log(`kill -> firing notification: ${((firing.receivedAt - killedAt) / 1000).toFixed(1)}s`);
    expect(firing.authorization).toBe(`Bearer ${token}`);
    expect(firing.body).toMatchObject({ version: "4", status: "firing", receiver: "webhook", groupLabels: { alertname: "DemoDown" } });
    expect(firing.body.externalURL).toBe(alertmanager!.url);
    const alert = firing.body.alerts[0];
    expect(alert).toMatchObject({ status: "firing", labels: { alertname: "DemoDown", job: "demo", instance: `127.0.0.1:${demoPort}`, severity: "critical" } });
    expect(alert.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(Number.isNaN(Date.parse(alert.startsAt))).toBe(false);
    expect(alert.generatorURL).toStartWith(prometheus!.url);

    const restartedAt = performance.now();
    demo = await spawnDemoService(demoPort);
    const resolved = await waitFor("a resolved notification", () => notifications.find((n) => n.body.status === "resolved"));
    console.log(`restart -> resolved notification: ${((resolved.receivedAt - restartedAt) / 1000).toFixed(1)}s`);
    const resolvedAlert = resolved.body.alerts[0];
    expect(resolvedAlert).toMatchObject({ status: "resolved", fingerprint: alert.fingerprint, startsAt: alert.startsAt, labels: { alertname: "DemoDown" } });
    expect(Date.parse(resolvedAlert.endsAt)).toBeGreaterThan(Date.parse(alert.startsAt));

    if (process.env.OPSKIT_WRITE_FIXTURES === "1") {
      await mkdir(fixtureDir, { recursive: true });
      await writeFile(`${fixtureDir}/firing.json`, `${JSON.stringify(firing.body, null, 2)}\n`);
      await writeFile(`${fixtureDir}/resolved.json`, `${JSON.stringify(resolved.body, null, 2)}\n`);
    }
    // The parser tests' fixtures must keep the shape this Alertmanager sends.
    expect(shape(firing.body)).toEqual(shape(await Bun.file(`${fixtureDir}/firing.json`).json()));
    expect(shape(resolved.body)).toEqual(shape(await Bun.file(`${fixtureDir}/resolved.json`).json()));
  },
  150_000,
);

test("a server that fails to start reports its stderr tail", async () => {
  const started = startPrometheus({ scrapeTargets: [], rules: "groups: [{ name: bad, rules: [{ alert: X, expr: 'up ==' }] }]\n", alertmanagerUrl: "http://127.0.0.1:9" });
  await expect(started).rejects.toThrow(/prometheus exited with 1 before it was ready[\s\S]*stderr tail[\s\S]*rules\.yml/);
});
