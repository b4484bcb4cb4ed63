import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { refusedPort } from "./harness/net.ts";
import { startOtlpReceiver, type FlatMetric, type OtlpReceiver } from "./harness/otlp.ts";
import { startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// `opskit serve` with an OTLP collector configured pushes the metrics
// /metrics serves over OTLP/HTTP too; the collector here is the test's own
// receiver, which decodes what arrives.

const AUTH = `otlp-auth-${crypto.randomUUID()}`;

let otlp: OtlpReceiver;
beforeAll(async () => {
  otlp = await startOtlpReceiver();
});
afterAll(() => otlp.stop());

const running: ServeProcess[] = [];
afterEach(async () => {
  otlp.respondWith(200);
  for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
});

async function serve(yaml: string, env: Record<string, string> = {}, args: string[] = []): Promise<ServeProcess> {
  const server = await startServe(writeConfig(yaml), { env, args });
  running.push(server);
  return server;
}

/** The newest export of `name` from the server with this service.instance.id whose points satisfy `until`. */
function exported(instance: string, name: string, until: (metric: FlatMetric) => boolean): FlatMetric | undefined {
  return otlp.metrics().findLast((m) => m.name === name && m.resource["service.instance.id"] === instance && until(m));
}

/** service.instance.id: the replica's id, which GET /api/v1/cluster names. */
async function instanceOf(server: ServeProcess): Promise<string> {
  const cluster = await server.get("/api/v1/cluster");
  const self = cluster.replicas.find((r: { self?: boolean }) => r.self) ?? cluster.replicas[0];
  return self.id;
}

describe("opskit serve exports its metrics over OTLP", () => {
  test("every metricsInterval, with the config's headers: opskit_http_requests_total counts a request, the request histogram keeps its buckets", async () => {
    const server = await serve(
      `observability:\n  otlp:\n    endpoint: ${otlp.url}\n    metricsInterval: 200ms\n    headers: { authorization: "env:OTLP_TEST_AUTH" }\n`,
      { OTLP_TEST_AUTH: `Bearer ${AUTH}` },
    );
    const instance = await instanceOf(server);
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);

    const requests = await otlp.waitFor(() =>
      exported(instance, "opskit_http_requests_total", (m) => m.dataPoints.some((p) => p.attributes.endpoint === "healthz" && p.value === 3)),
    );
    expect(requests).toMatchObject({ type: "sum", isMonotonic: true, aggregationTemporality: 2 });
    expect(requests.resource).toMatchObject({ "service.name": "opskit", "service.instance.id": instance });
    expect(requests.scope.name).toBe("opskit");

    const latency = await otlp.waitFor(() => exported(instance, "opskit_http_request_duration_seconds", (m) => m.dataPoints.some((p) => p.attributes.endpoint === "healthz" && p.count === 3)));
    expect(latency).toMatchObject({ type: "histogram", unit: "s" });
    const point = latency.dataPoints.find((p) => p.attributes.endpoint === "healthz")!;
    expect(point.explicitBounds).toEqual([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]);
    expect(point.bucketCounts!.reduce((a, b) => a + b, 0)).toBe(3);
    expect(exported(instance, "opskit_incidents_open", () => true)).toMatchObject({ type: "gauge", dataPoints: [{ value: 0 }] });

    const request = otlp.received().findLast((r) => r.signal === "metrics")!;
    expect(request.headers.authorization).toBe(`Bearer ${AUTH}`);
    expect(await server.stop()).toBe(0);
    expect(server.output()).not.toContain(AUTH);
  }, 60_000);

  test("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT alone turns it on; the last counts are flushed at shutdown", async () => {
    // An interval of an hour: what arrives comes from the flush at shutdown.
    const server = await serve("", { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${otlp.url}/v1/metrics`, OTEL_METRIC_EXPORT_INTERVAL: "3600000", OTEL_SERVICE_NAME: "opskit-flush" });
    const instance = await instanceOf(server);
    expect((await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    expect(exported(instance, "opskit_http_requests_total", () => true)).toBeUndefined();
    expect(await server.stop()).toBe(0);
    const requests = exported(instance, "opskit_http_requests_total", () => true);
    expect(requests?.resource["service.name"]).toBe("opskit-flush");
    // The one /healthz request, counted once the interval never came.
    expect(requests?.dataPoints.find((p) => p.attributes.endpoint === "healthz")?.value).toBe(1);
  }, 60_000);

  test("a collector that refuses every export: one warning in the log, the server answers and stops as usual", async () => {
    otlp.respondWith(400);
    const server = await serve(`observability:\n  otlp:\n    endpoint: ${otlp.url}\n    metricsInterval: 100ms\n`, {}, ["--log-format", "json"]);
    const before = otlp.refused;
    await otlp.waitFor(() => otlp.refused >= before + 4);
    expect((await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    expect(await server.stop()).toBe(0);
    const lines = server.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const warnings = lines.filter((l) => /metrics could not be sent/.test(l.msg));
    expect(warnings.map((l) => l.level)).toEqual(["warn"]);
    expect(warnings[0].msg).toContain(`${otlp.url}/v1/metrics`);
  }, 60_000);

  test("an unreachable collector: a warning, and the server starts and stops", async () => {
    const port = await refusedPort();
    const server = await serve(`observability:\n  otlp:\n    endpoint: http://127.0.0.1:${port}\n    metricsInterval: 100ms\n`);
    for (let i = 0; i < 200 && !server.output().includes("metrics could not be sent"); i++) await Bun.sleep(25);
    expect((await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    expect(await server.stop()).toBe(0);
    const warnings = server.output().split("\n").filter((l) => l.includes("metrics could not be sent"));
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^opskit serve: metrics could not be sent to http://127\\.0\\.0\\.1:${port}/v1/metrics: `))]);
  }, 60_000);
});
