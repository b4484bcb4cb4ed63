import { ExitCode, OpsError } from "../errors.ts";
import type { OtlpConfig, OtlpExport, OtlpSignal } from "../observe/index.ts";

// Where one OTLP signal (traces, metrics) is exported, from the standard
// OpenTelemetry variables over the config's `observability.otlp`
// (https://opentelemetry.io/docs/specs/otel/protocol/exporter/):
// OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT is the signal's full URL;
// OTEL_EXPORTER_OTLP_ENDPOINT, like the config's endpoint, is a base URL the
// signal's path (v1/traces) is appended to; headers add up (config, then
// OTEL_EXPORTER_OTLP_HEADERS, then the signal's own), later names winning.

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
};

function badEndpoint(name: string, value: string): OpsError {
  return new OpsError({
    code: "E_OTLP_ENDPOINT",
    message: `${name} "${value}" is not an http:// or https:// URL`,
    hint: `set it to the collector's OTLP/HTTP address, e.g. ${name}=http://127.0.0.1:4318${name.includes("_TRACES_") || name.includes("_METRICS_") ? "/v1/traces" : ""}, or unset it`,
    exitCode: ExitCode.config,
  });
}

/** `base` with the signal's path appended, as the spec says: a trailing slash or none, the path follows. */
function signalUrl(base: string, signal: OtlpSignal): string {
  return `${base.endsWith("/") ? base : `${base}/`}v1/${signal}`;
}

/** W3C baggage-style `key=value,key2=value2`, values percent-encoded (OTEL_EXPORTER_OTLP_HEADERS). */
export function parseOtlpHeaders(text: string | undefined, name: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (text ?? "").split(",")) {
    if (pair.trim() === "") continue;
    const at = pair.indexOf("=");
    const key = at < 0 ? "" : pair.slice(0, at).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      throw new OpsError({ code: "E_OTLP_HEADERS", message: `${name}: "${pair.trim().slice(0, 40)}" is not a header (key=value)`, hint: `write ${name}=name=value,name2=value2 (values percent-encoded)`, exitCode: ExitCode.config });
    }
    let value = pair.slice(at + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Taken as written: a lone % is a character of the value, not an encoding.
    }
    headers[key.toLowerCase()] = value;
  }
  return headers;
}

const disabled = (env: NodeJS.ProcessEnv, signal: OtlpSignal): boolean =>
  env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true" || env[`OTEL_${signal.toUpperCase()}_EXPORTER`]?.trim().toLowerCase() === "none";

/**
 * The export of `signal`, or undefined when nothing asks for one (no
 * endpoint anywhere, or OTEL_SDK_DISABLED=true / OTEL_TRACES_EXPORTER=none).
 * A variable holding no URL is an error naming it; the config's endpoint
 * was checked where the config loads, with its file:line:col.
 */
export function otlpExport(signal: OtlpSignal, config: OtlpConfig | undefined, env: NodeJS.ProcessEnv = process.env): OtlpExport | undefined {
  if (disabled(env, signal)) return undefined;
  const upper = signal.toUpperCase();
  const specificName = `OTEL_EXPORTER_OTLP_${upper}_ENDPOINT`;
  const specific = env[specificName]?.trim();
  const general = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  let url: string;
  let source: string;
  if (specific) {
    if (!isHttpUrl(specific)) throw badEndpoint(specificName, specific);
    [url, source] = [specific, specificName];
  } else if (general) {
    if (!isHttpUrl(general)) throw badEndpoint("OTEL_EXPORTER_OTLP_ENDPOINT", general);
    [url, source] = [signalUrl(general, signal), "OTEL_EXPORTER_OTLP_ENDPOINT"];
  } else if (config?.endpoint) {
    if (!isHttpUrl(config.endpoint)) throw badEndpoint("observability.otlp.endpoint", config.endpoint);
    [url, source] = [signalUrl(config.endpoint, signal), "observability.otlp.endpoint"];
  } else {
    return undefined;
  }
  const headers = {
    ...Object.fromEntries(Object.entries(config?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    ...parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS, "OTEL_EXPORTER_OTLP_HEADERS"),
    ...parseOtlpHeaders(env[`OTEL_EXPORTER_OTLP_${upper}_HEADERS`], `OTEL_EXPORTER_OTLP_${upper}_HEADERS`),
  };
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || config?.serviceName || "opskit";
  return { url, headers, serviceName, source };
}
