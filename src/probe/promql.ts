import { ExitCode, usageError } from "../errors.ts";
import { exchange, literalAddress, openConnection, PhaseError, resolveHost, type HttpResponse } from "../transport/index.ts";
import { parseDuration } from "../time/index.ts";
import { bareHost } from "./url.ts";
import type { Observation, ProbeContext, Prober, RequestOptions } from "./types.ts";

/** One sample: `t` in seconds since the epoch (as Prometheus writes it), `v` the value (NaN and ±Inf as such). */
export interface PromqlPoint {
  t: number;
  v: number;
}

/**
 * One series of a query's result. An instant vector's series has one point;
 * a range query's, every point in the range, `value` being the last. A
 * scalar or string result is one series without labels.
 */
export interface PromqlSeries {
  labels: Record<string, string>;
  value: number;
  values: PromqlPoint[];
}

export type PromqlResultType = "vector" | "matrix" | "scalar" | "string";

declare module "./types.ts" {
  interface Observation {
    promql?: { resultType: PromqlResultType; result: PromqlSeries[]; warnings: string[] };
  }
}

type Window = { kind: "instant"; time?: string } | { kind: "last"; rangeMs: number; stepSec: number } | { kind: "between"; start: string; end: string; stepSec: number };

export interface PromqlSpec {
  tls: boolean;
  host: string;
  port: number;
  hostHeader: string;
  /** Where Prometheus's API sits under the host ("" or a prefix such as /prometheus), without a trailing slash. */
  basePath: string;
  query: string;
  window: Window;
  /** Secret references (env:NAME, file:/path), resolved when the probe runs. */
  bearer?: string;
  basic?: { username: string; passwordRef: string };
  /** A PEM file trusted beside --ca, and whether to skip verification (beside --insecure). */
  ca?: string;
  insecure: boolean;
  servername: string;
  headers: Record<string, string>;
}

/** What a PromQL target's structured form holds (a check's, a step's, a rule's `promql:`). */
export interface PromqlTarget {
  /** Prometheus's base URL: http(s)://host:port, with the path prefix it is served under, if any. */
  url: string;
  query: string;
  range?: string;
  step?: string;
  start?: string;
  end?: string;
  time?: string;
  bearer?: string;
  basic?: { username: string; password: string };
  ca?: string;
  insecure?: boolean;
}

const PARAMETERS = ["query", "range", "step", "start", "end", "time", "bearer", "user", "password", "ca", "insecure", "servername"] as const;
type Parameter = (typeof PARAMETERS)[number];

/** Bodies past this are refused rather than parsed cut off: a matrix over a long range is large, and a truncated one is no answer. */
const MIN_BODY_BYTES = 16 << 20;
/** Points a range query asks for when no step is given (Grafana's default resolution is of this order). */
const DEFAULT_POINTS = 60;

const isSecretReference = (text: string) => (text.startsWith("env:") || text.startsWith("file:")) && text.length > text.indexOf(":") + 1;

/**
 * The query parameters of a promql+http(s) URL, each percent-decoded once.
 * URLSearchParams would read a "+" as a space, and PromQL is full of plus
 * signs; here "+" stays "+", and "%", "&" and "#" are written %25, %26, %23.
 */
function readParameters(url: URL, raw: string): Map<Parameter, string> {
  const found = new Map<Parameter, string>();
  const search = url.search.slice(1);
  if (search === "") return found;
  for (const pair of search.split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(equals < 0 ? pair : pair.slice(0, equals));
      value = equals < 0 ? "" : decodeURIComponent(pair.slice(equals + 1));
    } catch {
      throw usageError("E_TARGET_URL", `target "${raw}": a "%" in the query string is not followed by two hex digits`, "write PromQL's % (modulo) as %25, & as %26 and # as %23");
    }
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      throw usageError("E_TARGET_URL", `target "${raw}": unknown parameter "${name}"`, `a promql target takes ${PARAMETERS.join(", ")}; write PromQL's & as %26`);
    }
    if (found.has(name as Parameter)) throw usageError("E_TARGET_URL", `target "${raw}": parameter "${name}" given twice`, "give it once");
    found.set(name as Parameter, value);
  }
  return found;
}

function stepSeconds(text: string, raw: string): number {
  const ms = parseDuration(text, `step of target "${raw}"`);
  if (!(ms > 0)) throw usageError("E_TARGET_URL", `target "${raw}": step must be longer than zero`, "e.g. step=15s");
  return ms / 1000;
}

function parseWindow(params: Map<Parameter, string>, raw: string): Window {
  const range = params.get("range");
  const start = params.get("start");
  const end = params.get("end");
  const step = params.get("step");
  const time = params.get("time");
  if (range !== undefined) {
    if (start !== undefined || end !== undefined || time !== undefined) throw usageError("E_TARGET_URL", `target "${raw}": range= is the last stretch of time up to now; it takes no start=, end= or time=`, "give range= (and step=), or start= and end= with step=");
    const rangeMs = parseDuration(range, `range of target "${raw}"`);
    if (!(rangeMs > 0)) throw usageError("E_TARGET_URL", `target "${raw}": range must be longer than zero`, "e.g. range=5m");
    return { kind: "last", rangeMs, stepSec: step !== undefined ? stepSeconds(step, raw) : Math.max(1, Math.ceil(rangeMs / 1000 / DEFAULT_POINTS)) };
  }
  if (start !== undefined || end !== undefined) {
    if (start === undefined || end === undefined || step === undefined) throw usageError("E_TARGET_URL", `target "${raw}": a range query between two times needs start=, end= and step=`, "times as RFC 3339 or Unix seconds, e.g. start=2030-01-01T00:00:00Z&end=2030-01-01T01:00:00Z&step=1m; or range=1h for the last hour");
    if (time !== undefined) throw usageError("E_TARGET_URL", `target "${raw}": time= is for an instant query, not a range`, "drop time=, or start= and end=");
    return { kind: "between", start, end, stepSec: stepSeconds(step, raw) };
  }
  if (step !== undefined) throw usageError("E_TARGET_URL", `target "${raw}": step= needs range= (or start= and end=)`, "e.g. range=5m&step=15s");
  return time === undefined ? { kind: "instant" } : { kind: "instant", time };
}

/**
 * promql+http://host:port[/prefix]?query=EXPR[&range=5m&step=15s] (and
 * promql+https://): an instant or range query against Prometheus's HTTP API.
 * Credentials are references, never values: bearer=env:NAME, or
 * user=NAME&password=file:/path.
 */
export function parsePromql(url: URL, raw: string, request: RequestOptions): PromqlSpec {
  const hint = 'e.g. promql+http://127.0.0.1:9090/?query=up{job="api"} == 1';
  if (url.username || url.password) {
    throw usageError("E_TARGET_URL", `target "${raw}" carries credentials in the URL`, "give them as references: bearer=env:NAME, or user=NAME&password=env:NAME");
  }
  if (url.hash) throw usageError("E_TARGET_URL", `target "${raw}": "#" starts the URL's fragment, so the query would end there`, "write a # in the query as %23");
  const params = readParameters(url, raw);
  const query = params.get("query") ?? "";
  if (query.trim() === "") throw usageError("E_TARGET_URL", `target "${raw}" has no query`, hint);
  const bearer = params.get("bearer");
  const user = params.get("user");
  const password = params.get("password");
  // The value is not repeated in these messages: someone may have written the secret itself.
  if (bearer !== undefined && !isSecretReference(bearer)) throw usageError("E_PROMQL_SECRET", `target "${url.protocol}//${url.host}": bearer= must name where the token is, not hold it`, "write bearer=env:NAME or bearer=file:/path");
  if (password !== undefined && !isSecretReference(password)) throw usageError("E_PROMQL_SECRET", `target "${url.protocol}//${url.host}": password= must name where the password is, not hold it`, "write password=env:NAME or password=file:/path");
  if ((user === undefined) !== (password === undefined)) throw usageError("E_TARGET_URL", `target "${raw}": basic authentication needs both user= and password=`, "e.g. user=reader&password=env:PROM_PASSWORD");
  if (bearer !== undefined && user !== undefined) throw usageError("E_TARGET_URL", `target "${raw}": give bearer= or user= and password=, not both`, "Prometheus takes one Authorization header");
  const insecure = params.get("insecure");
  if (insecure !== undefined && insecure !== "1" && insecure !== "true" && insecure !== "0" && insecure !== "false") throw usageError("E_TARGET_URL", `target "${raw}": insecure= takes 1 or 0`, "insecure=1 skips certificate verification");
  const tls = url.protocol === "promql+https:";
  const host = bareHost(url);
  const port = url.port;
  const path = url.pathname;
  const spec: PromqlSpec = {
    tls,
    host,
    port: port ? Number(port) : tls ? 443 : 80,
    hostHeader: url.host,
    basePath: path.endsWith("/") ? path.slice(0, -1) : path,
    query,
    window: parseWindow(params, raw),
    insecure: insecure === "1" || insecure === "true",
    servername: params.get("servername") ?? host,
    headers: request.headers ?? {},
  };
  if (bearer !== undefined) spec.bearer = bearer;
  if (user !== undefined && password !== undefined) spec.basic = { username: user, passwordRef: password };
  const ca = params.get("ca");
  if (ca !== undefined) spec.ca = ca;
  return spec;
}

/** A query parameter's value as the URL form carries it: only what would end or change it is encoded, so the URL stays readable. */
function encodeValue(text: string): string {
  let out = "";
  for (const c of text) out += c === "%" || c === "&" || c === "#" || c <= " " || c === "\x7f" ? (c === " " ? " " : encodeURIComponent(c)) : c;
  return out;
}

/**
 * The URL form of a structured PromQL target, which every caller (checks,
 * steps, rules, verification) hands to parseTarget: the query is carried as
 * a parameter value, encoded so it decodes to exactly itself.
 */
export function promqlTargetUrl(target: PromqlTarget): string {
  let base: URL;
  try {
    base = new URL(target.url);
  } catch {
    throw usageError("E_PROMQL_URL", `promql url "${target.url}" is not a valid URL`, "Prometheus's base URL, e.g. http://127.0.0.1:9090");
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw usageError("E_PROMQL_URL", `promql url "${target.url}" is not http:// or https://`, "Prometheus's base URL, e.g. http://127.0.0.1:9090");
  if (base.username || base.password) throw usageError("E_PROMQL_URL", `promql url "${base.protocol}//${base.host}" carries credentials`, "give them as bearer: env:NAME, or basic: { username, password: env:NAME }");
  if (base.search || base.hash) throw usageError("E_PROMQL_URL", `promql url "${target.url}" has a query string or fragment`, "give Prometheus's base URL only; the query goes in query:");
  const params: [string, string][] = [["query", target.query]];
  for (const name of ["range", "step", "start", "end", "time", "bearer"] as const) {
    const value = target[name];
    if (value !== undefined) params.push([name, value]);
  }
  if (target.basic) params.push(["user", target.basic.username], ["password", target.basic.password]);
  if (target.ca !== undefined) params.push(["ca", target.ca]);
  if (target.insecure) params.push(["insecure", "1"]);
  const path = base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`;
  return `promql+${base.protocol}//${base.host}${path}?${params.map(([name, value]) => `${name}=${encodeValue(value)}`).join("&")}`;
}

/** Prometheus writes sample values as strings, with NaN and ±Inf spelt its way. */
function sampleValue(text: unknown): number {
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN" || typeof text !== "string") return Number.NaN;
  return Number(text);
}

type RawSample = [number, string];
interface RawSeries {
  metric?: Record<string, string>;
  value?: RawSample;
  values?: RawSample[];
  /** A native histogram sample: it has no single value, so it reads as NaN. */
  histogram?: unknown;
}

const point = (sample: RawSample | undefined): PromqlPoint | undefined => (Array.isArray(sample) ? { t: Number(sample[0]), v: sampleValue(sample[1]) } : undefined);

/** The answer's `data` as a list of series, whatever its type. */
function seriesOf(resultType: PromqlResultType, result: unknown): PromqlSeries[] {
  if (resultType === "scalar" || resultType === "string") {
    const only = point(result as RawSample);
    return only ? [{ labels: {}, value: only.v, values: [only] }] : [];
  }
  if (!Array.isArray(result)) return [];
  return (result as RawSeries[]).map((series) => {
    const values = resultType === "matrix" ? (series.values ?? []).map((sample) => point(sample)!) : [point(series.value) ?? { t: 0, v: Number.NaN }];
    return { labels: series.metric ?? {}, value: values.at(-1)?.v ?? Number.NaN, values };
  });
}

/** Prometheus's errorType values that mean it could not answer now (exit 1), rather than that the query is wrong (exit 2). */
const unavailable = new Set(["timeout", "canceled", "unavailable"]);

function requestBody(spec: PromqlSpec, timeoutMs: number): { path: string; body: string } {
  const form = new URLSearchParams({ query: spec.query });
  const { window } = spec;
  if (window.kind === "instant") {
    if (window.time !== undefined) form.set("time", window.time);
  } else {
    if (window.kind === "last") {
      const end = Date.now() / 1000;
      form.set("start", (end - window.rangeMs / 1000).toFixed(3));
      form.set("end", end.toFixed(3));
    } else {
      form.set("start", window.start);
      form.set("end", window.end);
    }
    form.set("step", String(window.stepSec));
  }
  // Prometheus stops evaluating when we stop waiting.
  form.set("timeout", `${Math.max(1, Math.round(timeoutMs))}ms`);
  return { path: `${spec.basePath}/api/v1/${window.kind === "instant" ? "query" : "query_range"}`, body: form.toString() };
}

async function authorization(spec: PromqlSpec): Promise<string | undefined> {
  if (!spec.bearer && !spec.basic) return undefined;
  // Loaded only for a target with credentials: schema/ brings YAML with it.
  const { resolveSecret } = await import("../schema/index.ts");
  if (spec.bearer) return `Bearer ${await resolveSecret(spec.bearer, "promql bearer")}`;
  const password = await resolveSecret(spec.basic!.passwordRef, "promql password");
  return `Basic ${Buffer.from(`${spec.basic!.username}:${password}`).toString("base64")}`;
}

function readAnswer(response: HttpResponse, endpoint: string): NonNullable<Observation["promql"]> {
  if (response.truncated) {
    throw new PhaseError("transfer", "E_PROMQL_TOO_LARGE", `the answer from ${endpoint} is larger than ${response.body.length} bytes`, { hint: "narrow the query (fewer series, a shorter range, a larger step)", exitCode: ExitCode.check });
  }
  let answer: { status?: string; errorType?: string; error?: string; warnings?: string[]; data?: { resultType?: PromqlResultType; result?: unknown } } | undefined;
  try {
    answer = JSON.parse(response.body.toString("utf8"));
  } catch {
    answer = undefined;
  }
  if (answer?.status === "error") {
    const type = String(answer.errorType ?? "error");
    throw new PhaseError("check", "E_PROMQL_ERROR", `Prometheus answered ${response.status} ${type}: ${answer.error ?? "(no message)"}`, {
      hint: type === "bad_data" ? "fix the query or its parameters; try it in Prometheus's expression browser" : unavailable.has(type) ? "Prometheus could not answer in time: simplify the query or raise the timeout" : "see Prometheus's log",
      exitCode: unavailable.has(type) ? ExitCode.transport : ExitCode.check,
    });
  }
  if (response.status < 200 || response.status > 299 || answer?.status !== "success" || !answer.data?.resultType) {
    const auth = response.status === 401 || response.status === 403;
    throw new PhaseError("check", "E_PROMQL_HTTP", `${endpoint} answered ${response.status}${response.reason ? ` ${response.reason}` : ""}${answer ? "" : ", not with Prometheus's JSON"}`, {
      hint: auth ? "check the credentials (bearer=, or user= and password=) and what they may read" : "is this Prometheus's base URL? its API lives under /api/v1/",
      exitCode: ExitCode.check,
    });
  }
  const { resultType, result } = answer.data;
  return { resultType, result: seriesOf(resultType, result), warnings: Array.isArray(answer.warnings) ? answer.warnings.map(String) : [] };
}

async function readCa(path: string): Promise<string> {
  try {
    return await Bun.file(path).text();
  } catch {
    throw new PhaseError("tls", "E_PROMQL_CA", `cannot read the CA file ${path}`, { hint: "ca= names a PEM file of CA certificates", exitCode: ExitCode.usage });
  }
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(Number(value.toPrecision(6)));
}

export const promqlProber: Prober<PromqlSpec> = {
  kind: "promql",
  schemes: ["promql+http", "promql+https"],
  queryIsCode: true,
  parse: parsePromql,
  async run(spec, context): Promise<Observation> {
    const { clock, signal } = context;
    const header = await authorization(spec);
    clock.enter("dns");
    const resolved = literalAddress(spec.host) ?? (await resolveHost(spec.host, signal));
    if (resolved.dnsMs !== undefined) clock.timings.dns = resolved.dnsMs;
    const ca = spec.ca === undefined ? context.ca : `${context.ca ?? ""}\n${await readCa(spec.ca)}`;
    const conn = await openConnection({
      address: resolved.address,
      port: spec.port,
      tls: spec.tls ? { servername: spec.servername, insecure: context.insecure || spec.insecure, ca } : undefined,
      clock,
      signal,
    });
    try {
      const { path, body } = requestBody(spec, context.timeoutMs);
      const headers: Record<string, string> = { ...spec.headers, "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
      if (header) headers.authorization = header;
      const response = await exchange(conn, { method: "POST", path, host: spec.hostHeader, headers, body, maxBodyBytes: Math.max(context.maxBodyBytes, MIN_BODY_BYTES) }, clock);
      const endpoint = `${spec.tls ? "https" : "http"}://${spec.hostHeader}${path}`;
      return { ip: resolved.address, status: response.status, tls: conn.tls, promql: readAnswer(response, endpoint) };
    } finally {
      conn.close();
    }
  },
  // Without a condition, a query that returns a series is healthy: the query states the healthy case (up{job="api"} == 1).
  judge: (observation) => (observation.promql && observation.promql.result.length > 0 ? undefined : "the query returned no series"),
  status(result) {
    const answer = result.promql;
    if (!answer) return undefined;
    const only = answer.result.length === 1 ? answer.result[0]! : undefined;
    return only && answer.resultType !== "matrix" ? formatValue(only.value) : `${answer.result.length} series`;
  },
  scope: {
    variables: {
      result: { list: { fields: { labels: { map: "string" }, value: "double", values: { list: { fields: { t: "double", v: "double" } } } } } },
      resultType: "string",
    },
    values: (observation) => ({ result: observation.promql?.result, resultType: observation.promql?.resultType }),
  },
  step: {
    names: ["result", "resultType"],
    data: (observation) => (observation.promql ? { result: observation.promql.result, resultType: observation.promql.resultType } : {}),
  },
};
