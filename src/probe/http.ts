import { usageError } from "../errors.ts";
import { exchange, headerRecord, headerValue, literalAddress, openConnection, resolveHost, type HttpResponse } from "../transport/index.ts";
import { bareHost } from "./url.ts";
import type { Observation, ProbeContext, Prober, RequestOptions } from "./types.ts";

declare module "./types.ts" {
  interface Observation {
    http?: { version: string; reason: string; headers: Record<string, string>; bodyBytes: number; truncated: boolean };
    body?: { text: string; json?: unknown };
  }
}

export interface HttpSpec {
  tls: boolean;
  host: string;
  port: number;
  path: string;
  hostHeader: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export function parseHttp(url: URL, raw: string, request: RequestOptions): HttpSpec {
  const tls = url.protocol === "https:";
  if (url.username || url.password) {
    throw usageError("E_TARGET_URL", `target "${raw}" carries credentials in the URL`, "send them as a header from a file target instead, so they stay out of logs");
  }
  const method = (request.method ?? "GET").toUpperCase();
  if (!isMethodName(method)) throw usageError("E_HTTP_METHOD", `invalid HTTP method "${request.method}"`, "use GET, HEAD, POST, ...");
  // Each getter of a URL builds a new string: read each once (planning 20,000 targets shows it).
  const port = url.port;
  return {
    tls,
    host: bareHost(url),
    port: port ? Number(port) : tls ? 443 : 80,
    path: `${url.pathname || "/"}${url.search}`,
    hostHeader: url.host,
    method,
    headers: request.headers ?? {},
    body: request.body,
  };
}

// Scans rather than regular expressions on the way to the first probe's
// result: compiling one costs `opskit probe URL` more than the scan.

/** /^[A-Z]+$/ */
function isMethodName(method: string): boolean {
  if (method.length === 0) return false;
  for (let i = 0; i < method.length; i++) if (method[i]! < "A" || method[i]! > "Z") return false;
  return true;
}

function decodeBody(body: Buffer, contentType: string | undefined): { text: string; json?: unknown } {
  const text = body.toString("utf8");
  // /^\s*[[{]/: trimStart removes what \s matches.
  const first = text.trimStart()[0];
  const looksJson = (contentType ?? "").includes("json") || first === "[" || first === "{";
  if (!looksJson) return { text };
  try {
    return { text, json: JSON.parse(text) };
  } catch {
    return { text };
  }
}

/**
 * The observation's `http`. Its headers become a record when first read (by
 * an expectation, --json, a step), then stay one: most probes of a long list
 * are judged on their status alone, and building the record of every
 * response's headers would cost more than parsing the response did.
 */
function httpView(response: HttpResponse): NonNullable<Observation["http"]> {
  const fields = response.fields;
  return {
    version: response.httpVersion,
    reason: response.reason,
    get headers(): Record<string, string> {
      const headers = headerRecord(fields);
      Object.defineProperty(this, "headers", { value: headers, enumerable: true, writable: true, configurable: true });
      return headers;
    },
    bodyBytes: response.bodyBytes,
    truncated: response.truncated,
  };
}

export const httpProber: Prober<HttpSpec> = {
  kind: "http",
  schemes: ["http", "https"],
  parse: parseHttp,
  async run(spec: HttpSpec, context: ProbeContext): Promise<Observation> {
    const { clock, signal } = context;
    clock.enter("dns");
    const resolved = literalAddress(spec.host) ?? (await resolveHost(spec.host, signal));
    if (resolved.dnsMs !== undefined) clock.timings.dns = resolved.dnsMs;
    const conn = await openConnection({
      address: resolved.address,
      port: spec.port,
      tls: spec.tls ? { servername: spec.host, insecure: context.insecure, ca: context.ca } : undefined,
      clock,
      signal,
    });
    try {
      const response = await exchange(
        conn,
        { method: spec.method, path: spec.path, host: spec.hostHeader, headers: spec.headers, body: spec.body, maxBodyBytes: context.maxBodyBytes },
        clock,
      );
      return {
        ip: resolved.address,
        status: response.status,
        tls: conn.tls,
        http: httpView(response),
        body: decodeBody(response.body, headerValue(response.fields, "content-type")),
      };
    } finally {
      conn.close();
    }
  },
  judge(observation) {
    const status = observation.status ?? 0;
    if (status >= 200 && status <= 399) return undefined;
    return `status ${status}${observation.http?.reason ? ` ${observation.http.reason}` : ""}`;
  },
  status: (result) => (result.status === undefined ? undefined : String(result.status)),
  scope: {
    variables: {
      body: { fields: { text: "string", bytes: "int", json: "dyn" } },
      headers: { map: "string" },
      http: { fields: { version: "string", reason: "string", headers: { map: "string" } } },
    },
    values: (observation) => ({
      body: observation.body && { ...observation.body, bytes: BigInt(observation.http?.bodyBytes ?? observation.body.text.length) },
      // Every target has headers, empty unless HTTP sent some, as CEL maps go.
      headers: observation.http?.headers ?? {},
      http: observation.http,
    }),
  },
  // A step keeps the headers at the top, as its `headers`, and not the rest of `http`.
  step: {
    names: ["body", "headers"],
    data: (observation) => ({
      ...(observation.body ? { body: observation.body } : {}),
      ...(observation.http ? { headers: observation.http.headers } : {}),
    }),
  },
};
