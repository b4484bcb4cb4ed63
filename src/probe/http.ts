import { ExitCode, usageError } from "../errors.ts";
import {
  exchange,
  headerRecord,
  headerValue,
  literalAddress,
  openConnection,
  openTunnel,
  PhaseClock,
  PhaseError,
  resolveHost,
  upgradeConnection,
  type Connection,
  type HttpResponse,
  type TlsInfo,
} from "../transport/index.ts";
import { proxyFor, type ProxyServer } from "./proxy.ts";
import { bareHost } from "./url.ts";
import type { Observation, ProbeContext, Prober, RequestOptions, Timings } from "./types.ts";

/** One redirect followed (-L): the response that sent the probe on, and how long its request took. */
export interface RedirectHop {
  url: string;
  status: number;
  location: string;
  timings: Timings;
}

declare module "./types.ts" {
  interface Observation {
    /** `url` is where the final response came from (after redirects, when followed). */
    http?: { version: string; reason: string; headers: Record<string, string>; bodyBytes: number; truncated: boolean; url: string };
    body?: { text: string; json?: unknown };
    /** The redirects followed on the way to the final response, in order (-L). */
    redirects?: RedirectHop[];
  }
}

export interface HttpSpec {
  /** The target's URL as given (redirects resolve Location against it). */
  url: string;
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
    url: raw,
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
function httpView(response: HttpResponse, url: string): NonNullable<Observation["http"]> {
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
    url,
  };
}

interface Exchanged {
  ip: string;
  tls: TlsInfo | undefined;
  response: HttpResponse;
}

/** Opens the connection a request needs: to the origin, or to the proxy (and a CONNECT tunnel through it for https). */
async function connectFor(spec: HttpSpec, context: ProbeContext, clock: PhaseClock, proxy: ProxyServer | undefined): Promise<{ ip: string; conn: Connection }> {
  const { signal } = context;
  const tls = spec.tls ? { servername: spec.host, insecure: context.insecure, ca: context.ca, cert: context.clientCert?.cert, key: context.clientCert?.key } : undefined;
  clock.enter("dns");
  const host = proxy ? proxy.host : spec.host;
  const resolved = literalAddress(host) ?? (await resolveHost(host, signal));
  if (resolved.dnsMs !== undefined) clock.timings.dns = resolved.dnsMs;
  if (!proxy) return { ip: resolved.address, conn: await openConnection({ address: resolved.address, port: spec.port, tls, clock, signal }) };
  const conn = await openConnection({ address: resolved.address, port: proxy.port, clock, signal });
  if (!tls) return { ip: resolved.address, conn };
  try {
    await openTunnel(conn, spec.hostHeader.includes(":") && !spec.hostHeader.endsWith("]") ? spec.hostHeader : `${spec.hostHeader}:${spec.port}`, proxy.authorization, clock);
    return { ip: resolved.address, conn: await upgradeConnection(conn, tls) };
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** One request and its response; through a proxy, plain http goes in absolute form with the proxy's credentials. */
async function requestOnce(spec: HttpSpec, context: ProbeContext, clock: PhaseClock): Promise<Exchanged> {
  const proxy = context.proxy ? proxyFor(context.proxy, spec.tls, spec.host) : undefined;
  const { ip, conn } = await connectFor(spec, context, clock, proxy);
  try {
    const viaProxy = proxy !== undefined && !spec.tls;
    const headers = viaProxy && proxy.authorization ? { ...spec.headers, "proxy-authorization": proxy.authorization } : spec.headers;
    const path = viaProxy ? `http://${spec.hostHeader}${spec.path}` : spec.path;
    const response = await exchange(conn, { method: spec.method, path, host: spec.hostHeader, headers, body: spec.body, maxBodyBytes: context.maxBodyBytes }, clock);
    return { ip, tls: conn.tls, response };
  } finally {
    conn.close();
  }
}

function observationOf(spec: HttpSpec, done: Exchanged, redirects: RedirectHop[] | undefined): Observation {
  const { response } = done;
  const observation: Observation = {
    ip: done.ip,
    status: response.status,
    tls: done.tls,
    http: httpView(response, spec.url),
    body: decodeBody(response.body, headerValue(response.fields, "content-type")),
  };
  if (redirects) observation.redirects = redirects;
  return observation;
}

/** 3xx answers a probe follows with -L, as curl does: not 304 Not Modified, nor 305/306 (proxy instructions curl ignores). */
const isFollowed = (status: number) => status >= 300 && status <= 399 && status !== 304 && status !== 305 && status !== 306;

const origin = (spec: HttpSpec) => `${spec.tls ? "https" : "http"}://${spec.hostHeader}:${spec.port}`;

/**
 * The request a redirect leads to, as curl makes it: Location resolved
 * against the URL that answered; 301 and 302 turn POST into GET and 303 any
 * method but HEAD (the body dropped); 307 and 308 keep method and body; the
 * Authorization and Cookie headers are not sent to another origin (scheme,
 * host or port), as curl without --location-trusted.
 */
export function redirectedSpec(spec: HttpSpec, status: number, location: string): HttpSpec {
  let url: URL;
  try {
    url = new URL(location, spec.url);
  } catch {
    throw new PhaseError("check", "E_HTTP_REDIRECT", `${spec.url} redirected to an invalid Location ${JSON.stringify(location.slice(0, 200))}`, { exitCode: ExitCode.check });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PhaseError("check", "E_HTTP_REDIRECT", `${spec.url} redirected to ${url.protocol}//, which a probe does not follow`, { exitCode: ExitCode.check });
  }
  url.username = "";
  url.password = "";
  url.hash = "";
  const toGet = ((status === 301 || status === 302) && spec.method === "POST") || (status === 303 && spec.method !== "HEAD");
  const next = parseHttp(url, url.href, { method: toGet ? "GET" : spec.method, headers: spec.headers, body: toGet ? undefined : spec.body });
  if (origin(next) !== origin(spec)) {
    const kept: Record<string, string> = {};
    for (const [name, value] of Object.entries(spec.headers)) {
      const lower = name.toLowerCase();
      if (lower !== "authorization" && lower !== "cookie") kept[name] = value;
    }
    next.headers = kept;
  }
  return next;
}

/** The phases one hop took, its own total, and the clock emptied for the next hop. */
function takeHopTimings(clock: PhaseClock, startedAt: number): Timings {
  const timings = { ...clock.timings } as Timings & Record<string, number | undefined>;
  delete timings.check;
  delete timings.request;
  timings.total = performance.now() - startedAt;
  for (const key in clock.timings) delete clock.timings[key as keyof typeof clock.timings];
  return timings;
}

/** Follows redirects up to the limit (curl's --max-redirs: going past it is a failure of its own). */
async function followRedirects(spec: HttpSpec, context: ProbeContext, limit: number): Promise<Observation> {
  const { clock } = context;
  const hops: RedirectHop[] = [];
  let current = spec;
  for (;;) {
    const startedAt = performance.now();
    const done = await requestOnce(current, context, clock);
    const status = done.response.status;
    const location = isFollowed(status) ? headerValue(done.response.fields, "location") : undefined;
    if (location === undefined) return observationOf(current, done, hops);
    if (hops.length >= limit) {
      throw new PhaseError("check", "E_HTTP_TOO_MANY_REDIRECTS", `more than ${limit} redirect${limit === 1 ? "" : "s"} (the last, ${status} from ${current.url} to ${location.slice(0, 200)})`, {
        hint: "raise --max-redirs, or look for a redirect loop",
        exitCode: ExitCode.check,
      });
    }
    const next = redirectedSpec(current, status, location);
    hops.push({ url: current.url, status, location: next.url, timings: takeHopTimings(clock, startedAt) });
    current = next;
  }
}

export const httpProber: Prober<HttpSpec> = {
  kind: "http",
  schemes: ["http", "https"],
  parse: parseHttp,
  async run(spec: HttpSpec, context: ProbeContext): Promise<Observation> {
    if (context.redirects !== undefined) return followRedirects(spec, context, context.redirects);
    if (context.proxy || context.clientCert) return observationOf(spec, await requestOnce(spec, context, context.clock), undefined);
    // The common case, kept apart: a probe of one URL, direct, is measured against curl.
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
        http: httpView(response, spec.url),
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
      http: { fields: { version: "string", reason: "string", headers: { map: "string" }, url: "string" } },
      redirects: { list: { fields: { url: "string", status: "int", location: "string", timings: { map: "duration" } } } },
    },
    values: (observation, cel) => ({
      body: observation.body && { ...observation.body, bytes: BigInt(observation.http?.bodyBytes ?? observation.body.text.length) },
      // Every target has headers, empty unless HTTP sent some, as CEL maps go.
      headers: observation.http?.headers ?? {},
      http: observation.http,
      // Every target has redirects, empty unless -L followed some.
      redirects: (observation.redirects ?? []).map((hop) => {
        const timings: Record<string, unknown> = {};
        for (const [phase, ms] of Object.entries(hop.timings)) if (ms !== undefined) timings[phase] = cel.duration(ms);
        return { url: hop.url, status: BigInt(hop.status), location: hop.location, timings };
      }),
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
