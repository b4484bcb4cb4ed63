import { describe, expect, test } from "bun:test";
import { isOpsError } from "../errors.ts";
import { otlpExport, parseOtlpHeaders } from "./otlp.ts";

describe("otlpExport", () => {
  test("nothing configured: no export", () => {
    expect(otlpExport("traces", undefined, {})).toBeUndefined();
    expect(otlpExport("traces", {}, {})).toBeUndefined();
  });

  test("the config's endpoint and OTEL_EXPORTER_OTLP_ENDPOINT are base URLs the signal's path is appended to, the variable winning", () => {
    expect(otlpExport("traces", { endpoint: "http://collector:4318" }, {})).toEqual({ url: "http://collector:4318/v1/traces", headers: {}, serviceName: "opskit", source: "observability.otlp.endpoint" });
    expect(otlpExport("metrics", { endpoint: "http://collector:4318/otlp/" }, {})?.url).toBe("http://collector:4318/otlp/v1/metrics");
    expect(otlpExport("traces", { endpoint: "http://collector:4318" }, { OTEL_EXPORTER_OTLP_ENDPOINT: "https://other:4318/base" })).toMatchObject({ url: "https://other:4318/base/v1/traces", source: "OTEL_EXPORTER_OTLP_ENDPOINT" });
  });

  test("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is the traces URL as written, over both", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:9999/custom/traces" };
    expect(otlpExport("traces", { endpoint: "http://c:4318" }, env)?.url).toBe("http://b:9999/custom/traces");
    expect(otlpExport("metrics", undefined, env)?.url).toBe("http://a:4318/v1/metrics");
  });

  test("headers add up: config, then OTEL_EXPORTER_OTLP_HEADERS, then the signal's, later names winning; values percent-decoded", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer%20abc, x-tenant = t1", OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-tenant=t2" };
    expect(otlpExport("traces", { headers: { "X-Team": "ops", authorization: "from-config" } }, env)?.headers).toEqual({ "x-team": "ops", authorization: "Bearer abc", "x-tenant": "t2" });
  });

  test("service name: OTEL_SERVICE_NAME, else the config's, else opskit", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318" };
    expect(otlpExport("traces", { serviceName: "ops-prod" }, env)?.serviceName).toBe("ops-prod");
    expect(otlpExport("traces", { serviceName: "ops-prod" }, { ...env, OTEL_SERVICE_NAME: "ops-edge" })?.serviceName).toBe("ops-edge");
  });

  test("OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn the export off", () => {
    expect(otlpExport("traces", { endpoint: "http://a:4318" }, { OTEL_SDK_DISABLED: "true" })).toBeUndefined();
    expect(otlpExport("traces", { endpoint: "http://a:4318" }, { OTEL_TRACES_EXPORTER: "none" })).toBeUndefined();
    expect(otlpExport("metrics", { endpoint: "http://a:4318" }, { OTEL_TRACES_EXPORTER: "none" })).toBeDefined();
  });

  test("a variable that holds no http(s) URL is a config error naming it", () => {
    for (const [name, value] of [["OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"], ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://x:4317"], ["OTEL_EXPORTER_OTLP_ENDPOINT", "http://"]] as const) {
      let caught: unknown;
      try {
        otlpExport("traces", undefined, { [name]: value });
      } catch (error) {
        caught = error;
      }
      expect(isOpsError(caught) && caught.code).toBe("E_OTLP_ENDPOINT");
      expect(isOpsError(caught) && caught.exitCode).toBe(65);
      expect(String((caught as Error).message)).toContain(name);
    }
  });
});

describe("parseOtlpHeaders", () => {
  test("a pair without a name is an error naming the variable", () => {
    expect(() => parseOtlpHeaders("=x", "OTEL_EXPORTER_OTLP_HEADERS")).toThrow("OTEL_EXPORTER_OTLP_HEADERS");
    expect(() => parseOtlpHeaders("novalue", "OTEL_EXPORTER_OTLP_HEADERS")).toThrow("key=value");
    expect(parseOtlpHeaders("a=1,,b=x%2Cy", "H")).toEqual({ a: "1", b: "x,y" });
  });
});
