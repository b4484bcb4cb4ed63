import { ExitCode, usageError } from "../../errors.ts";
import type { Expectation } from "../../expr/index.ts";
import { expectationVariables, parseTarget, proxyRules, readTargetFile, readTlsFiles, type ProbePlan, type ProbeSettings, type TargetEntry } from "../../probe/index.ts";
import { parseDuration } from "../../time/index.ts";
import type { ProbeOptions } from "./spec.ts";

export type { ProbeOptions };

export interface PlannedProbe {
  plan: ProbePlan;
  settings: ProbeSettings;
}

function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw usageError("E_USAGE_HEADER", `invalid --header "${line}"`, 'write it as "Name: value"');
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The settings a -f YAML entry changes from the command line's (redirects, proxy, TLS files), or `base` itself. */
async function entrySettings(entry: TargetEntry, base: ProbeSettings, options: ProbeOptions): Promise<ProbeSettings> {
  const changes = entry.timeout || entry.retries !== undefined || entry.followRedirects !== undefined || entry.maxRedirects !== undefined || entry.proxy !== undefined || entry.noProxy !== undefined || entry.tls;
  if (!changes) return base;
  const settings: ProbeSettings = { ...base };
  if (entry.timeout) settings.timeoutMs = parseDuration(entry.timeout, `${entry.where} timeout`);
  if (entry.retries !== undefined) settings.retries = entry.retries;
  const follow = entry.followRedirects ?? options.location;
  if (!follow) delete settings.redirects;
  else settings.redirects = redirectLimit(entry.maxRedirects ?? options.maxRedirs);
  if (entry.proxy !== undefined || entry.noProxy !== undefined) {
    const rules = proxyRules({ proxy: entry.proxy ?? options.proxy, noProxy: entry.noProxy ?? options.noproxy }, process.env, `${entry.where}: proxy`);
    if (rules) settings.proxy = rules;
    else delete settings.proxy;
  }
  if (entry.tls) {
    const at = `${entry.where}: tls.`;
    const files = await readTlsFiles(entry.tls, { ca: `${at}ca`, cert: `${at}cert`, key: `${at}key` }, ExitCode.config);
    if (files.ca) settings.ca = files.ca;
    if (files.clientCert) settings.clientCert = files.clientCert;
    if (entry.tls.insecure !== undefined) settings.insecure = entry.tls.insecure;
  }
  return settings;
}

/** curl's --max-redirs: -1 is no limit. */
const redirectLimit = (n: number) => (n < 0 ? Number.POSITIVE_INFINITY : n);

// Loops rather than map/forEach/find on the way to the first probe: the engine
// compiles each such builtin on its first call (0.1-0.3 ms apiece), which
// `opskit probe URL`, measured against curl, cannot afford.

/** The targets named on the command line and in -f FILE, in that order. */
export async function gatherEntries(targets: string[], options: ProbeOptions): Promise<TargetEntry[]> {
  const entries: TargetEntry[] = [];
  for (let i = 0; i < targets.length; i++) entries.push({ url: targets[i]!, labels: {}, expect: [], where: `argument ${i + 1}` });
  if (options.file) entries.push(...(await readTargetFile(options.file)));
  if (entries.length === 0) throw usageError("E_USAGE_NO_TARGETS", "no targets given", "pass URLs as arguments or -f FILE, e.g. opskit probe http://127.0.0.1:8080/health");
  return entries;
}

/** Turns target entries into plans; every error surfaces before any probe runs. */
export async function planEntries(entries: TargetEntry[], options: ProbeOptions): Promise<PlannedProbe[]> {
  if (options.ca && options.cacert) throw usageError("E_USAGE_CA", "--ca and --cacert name the same thing", "give one of them");
  const tlsFiles = options.ca || options.cacert || options.cert || options.key
    ? await readTlsFiles({ ca: options.ca ?? options.cacert, cert: options.cert, key: options.key }, { ca: options.ca ? "--ca" : "--cacert", cert: "--cert", key: "--key" }, ExitCode.usage)
    : undefined;
  const base: ProbeSettings = {
    timeoutMs: options.timeout.ms,
    retries: options.retries,
    retryDelayMs: options.retryDelay.ms,
    insecure: options.insecure,
    ca: tlsFiles?.ca,
    maxBodyBytes: options.maxBody,
  };
  if (options.location) base.redirects = redirectLimit(options.maxRedirs);
  const proxy = proxyRules({ proxy: options.proxy, noProxy: options.noproxy });
  if (proxy) base.proxy = proxy;
  if (tlsFiles?.clientCert) base.clientCert = tlsFiles.clientCert;
  const headers = parseHeaders(options.header);

  // Expressions are compiled once per distinct text, however many targets share them;
  // an error names where the text first appeared.
  const firstSeen = new Map<string, string>();
  for (let i = 0; i < options.expect.length; i++) if (!firstSeen.has(options.expect[i]!)) firstSeen.set(options.expect[i]!, `--expect #${i + 1}`);
  for (const entry of entries) for (const source of entry.expect) if (!firstSeen.has(source)) firstSeen.set(source, `${entry.where}: expect`);
  const compiled = new Map<string, Expectation>();
  if (firstSeen.size > 0) {
    // CEL is loaded only for expressions: most probes have none, and startup counts.
    const sources = [...firstSeen.keys()];
    const list = await (await import("../../expr/index.ts")).compileExpectations(sources, (i) => firstSeen.get(sources[i]!)!, expectationVariables);
    sources.forEach((source, i) => compiled.set(source, list[i]!));
  }
  const expectationsOf = (sources: string[]) => {
    const list: Expectation[] = [];
    for (const source of new Set(sources)) list.push(compiled.get(source)!);
    return list;
  };
  // What most targets of a long list share is built once, not per target
  // (plans are read-only): planning 20,000 targets is part of the run's time.
  const shared = { expectations: expectationsOf(options.expect) };
  const planned: PlannedProbe[] = [];
  for (const entry of entries) {
    const request = { method: entry.method ?? options.method, headers: entry.headers ? { ...headers, ...entry.headers } : headers, body: entry.body };
    const target = parseTarget(entry.url, entry.where.startsWith("argument") ? "target" : `${entry.where}: target`, request);
    const settings = await entrySettings(entry, base, options);
    const expectations = entry.expect.length === 0 ? shared.expectations : expectationsOf([...options.expect, ...entry.expect]);
    planned.push({ plan: { target, name: entry.name ?? target.raw, labels: entry.labels, expectations }, settings });
  }
  return planned;
}
