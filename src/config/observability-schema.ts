import type { SchemaKit } from "../schema/index.ts";

/** `observability:` where traces, OTLP metrics and the server's structured log go; on its own so opskit agent can check it without the whole schema. */
export function observabilityPart({ z, duration, secretRef }: SchemaKit) {
  return z
    .object({
      otlp: z
        .object({
          endpoint: z
            .string()
            .url()
            .refine((u) => /^https?:\/\//i.test(u), "an http:// or https:// URL")
            .describe("the OTLP/HTTP collector's base URL, e.g. http://127.0.0.1:4318 (traces go to /v1/traces, metrics to /v1/metrics); OTEL_EXPORTER_OTLP_ENDPOINT overrides it"),
          headers: z.record(z.string(), secretRef).default({}).describe("headers sent with every export, values as secret references, e.g. { authorization: env:OTLP_AUTH }"),
          serviceName: z.string().min(1).optional().describe("service.name on every span and metric (default opskit; OTEL_SERVICE_NAME overrides it)"),
          metricsInterval: duration.optional().describe("default 30s: how often metrics are exported over OTLP (opskit serve)"),
        })
        .strict()
        .optional()
        .describe("send every run and incident as a trace (and the server's metrics) to an OpenTelemetry collector over OTLP/HTTP"),
      logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).optional().describe("default info: the least severe line the server log writes; --log-level overrides it"),
    })
    .strict();
}
