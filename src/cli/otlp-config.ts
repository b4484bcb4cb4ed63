// observability.otlp as the exporters take it: header values resolved from
// their secret references (and registered, so no line shows them), then the
// standard OTEL_* variables over it (config's otlpExport).
import { otlpExport, type LoadedConfig, type ObservabilityConfig } from "../config/index.ts";
import { configError } from "../errors.ts";
import { registerSecret, type OtlpConfig, type OtlpExport, type OtlpSignal } from "../observe/index.ts";
import { parseDuration } from "../time/index.ts";

/** What these read of a loaded config (opskit agent loads only some of it). */
type WithObservability = Pick<LoadedConfig, "where"> & { config: { observability?: ObservabilityConfig } };

/** The export of one signal, or undefined when nothing asks for one; headers are resolved only then. */
export async function resolveOtlpExport(signal: OtlpSignal, loaded: WithObservability, env: NodeJS.ProcessEnv = process.env): Promise<OtlpExport | undefined> {
  const otlp = loaded.config.observability?.otlp;
  const base: OtlpConfig = { ...(otlp?.endpoint ? { endpoint: otlp.endpoint } : {}), ...(otlp?.serviceName ? { serviceName: otlp.serviceName } : {}) };
  if (!otlpExport(signal, base, env)) return undefined;
  const { resolveSecret } = await import("../schema/index.ts");
  const headers: Record<string, string> = {};
  for (const [name, reference] of Object.entries(otlp?.headers ?? {})) headers[name] = await resolveSecret(reference, `${loaded.where(["observability", "otlp", "headers", name])}`);
  const settings = otlpExport(signal, { ...base, headers }, env)!;
  // OTEL_EXPORTER_OTLP_HEADERS carries credentials as often as the config does.
  for (const value of Object.values(settings.headers)) registerSecret(value);
  return settings;
}

/**
 * How often metrics leave: OTEL_METRIC_EXPORT_INTERVAL (milliseconds, the
 * standard variable) over observability.otlp.metricsInterval, default 30s,
 * like the other OTEL_* variables over the config.
 */
export function metricsIntervalMs(loaded: WithObservability, env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = env.OTEL_METRIC_EXPORT_INTERVAL?.trim();
  if (fromEnv && /^\d+$/.test(fromEnv) && Number(fromEnv) > 0) return Number(fromEnv);
  const configured = loaded.config.observability?.otlp?.metricsInterval;
  if (!configured) return 30_000;
  const where = loaded.where(["observability", "otlp", "metricsInterval"]);
  const ms = parseDuration(configured, where);
  if (ms < 100) throw configError("E_CONFIG", `${where}: metricsInterval ${configured} is under 100ms`, "export every 100ms or more; 30s (the default) suits most collectors");
  return ms;
}
