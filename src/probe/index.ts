// Health probes: one file per protocol behind one Prober contract, a registry,
// runProbe, which applies timeouts, retries, expectations and verdicts, and
// the events (ProbeEvent) and tally a run of many probes reports.
export { probers } from "./probers.ts";
export { parseTarget, proberOfTarget, type ParsedTarget } from "./target.ts";
export { promqlTargetUrl, type PromqlSeries, type PromqlTarget } from "./promql.ts";
export { runProbe } from "./run.ts";
export { ProbeCounter, worseExit, type ProbeEvent, type ProbeTally } from "./events.ts";
export { expectationVariables, statusText, stepData, stepVariables } from "./scope.ts";
export type { TargetEntry } from "./file.ts";
export { bypassesProxy, proxyRules, shownProxy, type ProxyRules } from "./proxy.ts";
export { readTlsFiles, type TlsFiles } from "./tls-files.ts";
export type { RedirectHop } from "./http.ts";
export type { ProbeClientFields } from "./client-settings.ts";

/** A configured probe's redirects, proxy and TLS files as settings; loaded lazily (it reads secrets and files). */
export async function clientSettings(...args: Parameters<typeof import("./client-settings.ts").clientSettings>): Promise<import("./types.ts").ProbeSettings> {
  return (await import("./client-settings.ts")).clientSettings(...args);
}

/** Reads a -f target file; loaded lazily because YAML and zod cost startup time. */
export async function readTargetFile(file: string): Promise<import("./file.ts").TargetEntry[]> {
  const { readTargetFile: read } = await import("./file.ts");
  return read(file);
}
export type { RequestOptions, ProbeResult, ProbePlan, ProbeSettings, Verdict, Timings, Attempt, Observation, Prober, ScopePart, StepView, ClientCertificate } from "./types.ts";
