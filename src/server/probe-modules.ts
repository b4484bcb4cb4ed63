// opskit serve's GET /probe: blackbox_exporter's multi-target endpoint over
// opskit's probers. Modules come from opskit.yaml (probeModules:), compiled
// once at start; each scrape probes one target with one module and answers
// in the Prometheus text format with blackbox_exporter's metric names.
import type { ProbeModule } from "../config/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { compileGlob, type Glob } from "../glob/index.ts";
import { clientSettings, parseTarget, runProbe, type ProbeResult, type ProbeSettings, type Timings } from "../probe/index.ts";
import { parseDuration } from "../time/index.ts";
import { ipFamily } from "../transport/index.ts";

export interface CompiledModule {
  name: string;
  module: ProbeModule;
  timeoutMs: number;
  settings: ProbeSettings;
  allowed: Glob[] | undefined;
  mustMatch: RegExp[];
  mustNotMatch: RegExp[];
}

export type ProbeModules = ReadonlyMap<string, CompiledModule>;

/** Blackbox offsets the scrape timeout by half a second, leaving room for the answer. */
const SCRAPE_TIMEOUT_OFFSET_SEC = 0.5;

function regexps(sources: string[], at: string): RegExp[] {
  return sources.map((source, i) => {
    try {
      return new RegExp(source);
    } catch (error) {
      throw new OpsError({ code: "E_CONFIG_REGEXP", message: `${at}[${i}]: ${(error as Error).message}`, hint: "write a JavaScript regular expression", exitCode: ExitCode.config });
    }
  });
}

/** Compiles every module: a bad one fails the server's start, naming its config path. */
export async function compileProbeModules(modules: Record<string, ProbeModule>, where: (path: (string | number)[]) => string, baseDir: string): Promise<ProbeModules> {
  const compiled = new Map<string, CompiledModule>();
  for (const [name, module] of Object.entries(modules)) {
    const at = (...path: string[]) => where(["probeModules", name, ...path]);
    const timeoutMs = parseDuration(module.timeout, at("timeout"));
    const base: ProbeSettings = { timeoutMs, retries: 0, retryDelayMs: 0, insecure: false, ca: undefined, maxBodyBytes: 1 << 20 };
    const http = module.prober === "http" ? module.http : undefined;
    const settings = await clientSettings({ ...(http ?? {}), tls: module.tls ?? http?.tls }, base, baseDir, (...path) => at(...(http && path[0] !== "tls" ? ["http", ...path] : path)));
    compiled.set(name, {
      name,
      module,
      timeoutMs,
      settings,
      allowed: module.targets?.map((pattern) => compileGlob(pattern)),
      mustMatch: regexps(http?.failIfBodyNotMatchesRegexp ?? [], at("http", "failIfBodyNotMatchesRegexp")),
      mustNotMatch: regexps(http?.failIfBodyMatchesRegexp ?? [], at("http", "failIfBodyMatchesRegexp")),
    });
  }
  return compiled;
}

/** A request the endpoint refuses: 400 with what was wrong. */
export class ProbeRequestError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The opskit probe target a blackbox-style ?target= names for this module's prober. */
export function targetUrl(module: CompiledModule, target: string): string {
  const { prober } = module.module;
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
  if (prober === "http") {
    const url = hasScheme ? target : `http://${target}`;
    if (!/^https?:\/\//i.test(url)) throw new ProbeRequestError(`target "${target}" is not an http:// or https:// URL`, "an http module probes URLs, e.g. target=https://example.com/health");
    return url;
  }
  if (hasScheme) throw new ProbeRequestError(`target "${target}" must be host:port for a ${prober} module`, "e.g. target=db.example.com:5432");
  if (prober === "dns") {
    const server = /:\d+$/.test(target) && !target.endsWith("]") ? target : `${target}:53`;
    const query = module.module.dns!;
    return `dns://${encodeURIComponent(query.queryName)}?type=${encodeURIComponent(query.queryType)}&server=${encodeURIComponent(server)}`;
  }
  return `${prober === "tcp" ? "tcp" : "tls"}://${target}`;
}

interface Sample {
  name: string;
  help: string;
  labels?: Record<string, string>;
  value: number;
}

/** Probes `target` with the module, within the scrape's own timeout; the answer in the Prometheus text format. */
export async function probeWithModule(module: CompiledModule, target: string, scrapeTimeoutSec: number | undefined, signal: AbortSignal): Promise<string> {
  if (module.allowed && !module.allowed.some((glob) => glob.test(target))) {
    throw new ProbeRequestError(`module "${module.name}" may not probe target "${target}"`, "its targets: list names the targets it may probe");
  }
  const url = targetUrl(module, target);
  let parsed;
  try {
    parsed = parseTarget(url, "target", module.module.prober === "http" ? { method: module.module.http.method, headers: module.module.http.headers, body: module.module.http.body } : {});
  } catch (error) {
    throw new ProbeRequestError(error instanceof Error ? error.message : String(error), "pass the target URL-encoded, e.g. target=https%3A%2F%2Fexample.com%2F");
  }
  let timeoutMs = module.timeoutMs;
  if (scrapeTimeoutSec !== undefined && scrapeTimeoutSec > 0) {
    const cap = scrapeTimeoutSec > SCRAPE_TIMEOUT_OFFSET_SEC ? scrapeTimeoutSec - SCRAPE_TIMEOUT_OFFSET_SEC : scrapeTimeoutSec;
    timeoutMs = Math.min(timeoutMs, cap * 1000);
  }
  const started = performance.now();
  const result = await runProbe({ target: parsed, name: target, labels: {}, expectations: [] }, { ...module.settings, timeoutMs }, signal);
  return renderSamples(samplesOf(module, result, (performance.now() - started) / 1000, literalFamily(url)));
}

/** Blackbox's phases, from opskit's: summed over the redirects followed, as blackbox sums them. */
function httpPhases(result: ProbeResult): Record<string, number> {
  const phases: Record<string, number> = { resolve: 0, connect: 0, tls: 0, processing: 0, transfer: 0 };
  const add = (t: Timings) => {
    phases.resolve! += t.dns ?? 0;
    phases.connect! += (t.connect ?? 0) + (t.proxy ?? 0);
    phases.tls! += t.tls ?? 0;
    phases.processing! += t.firstByte ?? 0;
    phases.transfer! += t.transfer ?? 0;
  };
  for (const hop of result.redirects ?? []) add(hop.timings);
  add(result.timings);
  for (const key of Object.keys(phases)) phases[key] = phases[key]! / 1000;
  return phases;
}

/** 4 or 6 when the target names an IP address: the protocol a failed probe would have used. */
function literalFamily(url: string): number {
  const host = new URL(url.replace(/^dns:\/\/[^?]*\?.*server=([^&]*).*$/, (_, server: string) => `tcp://${decodeURIComponent(server)}`)).hostname.replace(/^\[|\]$/g, "");
  return ipFamily(host) ?? 0;
}

/** Go's names for the TLS versions ("TLS 1.3"), as blackbox labels them; node:tls says "TLSv1.3". */
export function tlsVersionName(version: string): string {
  const match = /^TLSv1(?:\.([0-3]))?$/.exec(version);
  return match ? `TLS 1.${match[1] ?? "0"}` : "unknown";
}

function samplesOf(module: CompiledModule, result: ProbeResult, seconds: number, family: number): Sample[] {
  const reached = result.error === undefined && result.verdict !== "interrupted";
  const samples: Sample[] = [];
  const add = (name: string, help: string, value: number, labels?: Record<string, string>) => samples.push({ name, help, value, ...(labels ? { labels } : {}) });
  const ipv6 = result.ip?.includes(":") ?? false;
  add("probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds", (result.timings.dns ?? 0) / 1000);
  add("probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6", result.ip ? (ipv6 ? 6 : 4) : family);
  let success = reached;
  if (module.module.prober === "http") {
    const status = result.status ?? 0;
    const valid = module.module.http.validStatusCodes;
    const statusOk = valid ? valid.includes(status) : status >= 200 && status <= 299;
    const text = result.body?.text ?? "";
    const regexFailed = reached && (module.mustNotMatch.some((re) => re.test(text)) || module.mustMatch.some((re) => !re.test(text)));
    success = reached && statusOk && !regexFailed;
    const length = result.http?.headers["content-length"];
    for (const [phase, value] of Object.entries(httpPhases(result))) add("probe_http_duration_seconds", "Duration of http request by phase, summed over all redirects", value, { phase });
    add("probe_http_status_code", "Response HTTP status code", status);
    add("probe_http_content_length", "Length of http content response", length !== undefined && /^\d+$/.test(length) ? Number(length) : -1);
    add("probe_http_redirects", "The number of redirects", result.redirects?.length ?? 0);
    add("probe_http_ssl", "Indicates if SSL was used for the final redirect", result.http?.url?.toLowerCase().startsWith("https:") || (!result.http && result.target.toLowerCase().startsWith("https:")) ? 1 : 0);
    add("probe_http_version", "Returns the version of HTTP of the probe response", result.http ? Number(result.http.version) : 0);
    add("probe_failed_due_to_regex", "Indicates if probe failed due to regex", regexFailed ? 1 : 0);
  } else if (module.module.prober !== "dns") {
    add("probe_failed_due_to_regex", "Indicates if probe failed due to regex", 0);
  } else {
    // blackbox's valid_rcodes default: NOERROR only.
    success = reached && result.dns?.rcode === "NOERROR";
    add("probe_dns_answer_rrs", "Returns number of entries in the answer resource record list", result.dns?.answers.length ?? 0);
  }
  if (result.tls?.notAfter) {
    // The earliest expiry of the certificates the server presented, as blackbox's: not only its own.
    add("probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime", Date.parse(result.tls.chainNotAfter || result.tls.notAfter) / 1000);
    add("probe_tls_version_info", "Returns the TLS version used or NaN when unknown", 1, { version: tlsVersionName(result.tls.version) });
  }
  add("probe_success", "Displays whether or not the probe was a success", success ? 1 : 0);
  add("probe_duration_seconds", "Returns how long the probe took to complete in seconds", seconds);
  return samples;
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** The samples in the Prometheus text format (0.0.4), each family with its HELP and TYPE once. */
function renderSamples(samples: Sample[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const sample of samples) {
    if (!seen.has(sample.name)) {
      seen.add(sample.name);
      lines.push(`# HELP ${sample.name} ${sample.help}`, `# TYPE ${sample.name} gauge`);
    }
    const labels = sample.labels ? `{${Object.entries(sample.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
    lines.push(`${sample.name}${labels} ${Number.isFinite(sample.value) ? sample.value : "NaN"}`);
  }
  return `${lines.join("\n")}\n`;
}
