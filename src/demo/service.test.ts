import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseListen } from "../transport/index.ts";
import { serveDemoService, type DemoService } from "./index.ts";

const root = new URL("../..", import.meta.url).pathname;

describe("demo service", () => {
  let service: DemoService;

  beforeAll(async () => {
    service = await serveDemoService({ name: "checkout", listen: "127.0.0.1:0" });
  });

  afterAll(() => service.stop());

  test("binds a free port when asked for port 0 and reports it", () => {
    expect(service.port).toBeGreaterThan(0);
    expect(service.url).toBe(`http://127.0.0.1:${service.port}`);
  });

  test("GET /health answers 200 with the service name and uptime", async () => {
    const response = await fetch(`${service.url}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: "ok", service: "checkout" });
    expect(typeof body.uptimeSec).toBe("number");
  });

  test("GET /metrics serves Prometheus text with up, request count and start time", async () => {
    const response = await fetch(`${service.url}/metrics`);
    expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    const text = await response.text();
    expect(text).toContain("\ndemo_up 1\n");
    expect(text).toMatch(/\ndemo_requests_total\{service="checkout"\} \d+\n/);
    expect(text).toMatch(/\ndemo_start_time_seconds \d+(\.\d+)?\n/);
    expect(text).toContain("# TYPE demo_requests_total counter");
  });

  test("POST /break makes /health answer 503 while the service keeps running; POST /fix reverts", async () => {
    expect((await fetch(`${service.url}/break`, { method: "POST" })).status).toBe(200);
    const broken = await fetch(`${service.url}/health`);
    expect(broken.status).toBe(503);
    expect(await broken.json()).toMatchObject({ status: "broken", service: "checkout" });
    expect(await (await fetch(`${service.url}/metrics`)).text()).toContain('demo_healthy{service="checkout"} 0');

    await fetch(`${service.url}/fix`, { method: "POST" });
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
  });

  test("unknown paths and wrong methods answer 404", async () => {
    expect((await fetch(`${service.url}/nope`)).status).toBe(404);
    expect((await fetch(`${service.url}/break`)).status).toBe(404);
  });

  test("the request counter counts every request", async () => {
    const count = async () => Number(/demo_requests_total\{service="checkout"\} (\d+)/.exec(await (await fetch(`${service.url}/metrics`)).text())![1]);
    const before = await count();
    await fetch(`${service.url}/health`);
    expect(await count()).toBe(before + 2);
  });
});

test("aborting the signal stops the service and settles stopped", async () => {
  const controller = new AbortController();
  const service = await serveDemoService({ name: "x", listen: "127.0.0.1:0", signal: controller.signal });
  controller.abort();
  await service.stopped;
  await expect(fetch(`${service.url}/health`)).rejects.toThrow();
});

test("metric label values are escaped", async () => {
  const service = await serveDemoService({ name: 'we"ird\\name', listen: "127.0.0.1:0" });
  try {
    expect(await (await fetch(`${service.url}/metrics`)).text()).toContain('demo_requests_total{service="we\\"ird\\\\name"} 1');
  } finally {
    await service.stop();
  }
});

test("parseListen reads host:port and [v6]:port and rejects the rest with a usage error", () => {
  expect(parseListen("127.0.0.1:80")).toEqual({ hostname: "127.0.0.1", port: 80 });
  expect(parseListen("[::1]:0")).toEqual({ hostname: "::1", port: 0 });
  expect(parseListen("localhost:9100")).toEqual({ hostname: "localhost", port: 9100 });
  for (const bad of ["127.0.0.1", ":8080", "host:99999", "::1:80", "http://x:1"]) {
    expect(() => parseListen(bad)).toThrow(expect.objectContaining({ code: "E_USAGE_LISTEN", exitCode: 64 }));
  }
});

test("a port in use is a usage error that names the address", async () => {
  const first = await serveDemoService({ name: "a", listen: "127.0.0.1:0" });
  try {
    await expect(serveDemoService({ name: "b", listen: `127.0.0.1:${first.port}` })).rejects.toMatchObject({ code: "E_DEMO_LISTEN" });
  } finally {
    await first.stop();
  }
});

test("opskit demo-service prints its address, serves, and exits 0 on SIGTERM", async () => {
  const child = Bun.spawn([process.execPath, `${root}src/cli/main.ts`, "demo-service", "--name", "cli-demo", "--listen", "127.0.0.1:0"], { stdout: "pipe", stderr: "pipe" });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  const line = new TextDecoder().decode(value);
  const match = /^demo service cli-demo listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(line);
  expect(match).not.toBeNull();
  expect(await (await fetch(`${match![1]}/health`)).json()).toMatchObject({ service: "cli-demo" });
  child.kill("SIGTERM");
  expect(await child.exited).toBe(0);
  expect(await new Response(child.stderr).text()).toBe("");
});

test("demo-service is hidden from opskit --help", async () => {
  const help = Bun.spawnSync([process.execPath, `${root}src/cli/main.ts`, "--help"]);
  expect(help.stdout.toString()).not.toContain("demo-service");
});
