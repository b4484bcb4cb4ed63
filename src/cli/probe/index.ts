import { ExitCode, OpsError, usageError } from "../../errors.ts";
import { compileExpectations } from "../../expr/index.ts";
import { runPool } from "../../engine/index.ts";
import {
  expectationVariables,
  parseTarget,
  readTargetFile,
  runProbe,
  type ProbePlan,
  type ProbeSettings,
  type TargetEntry,
} from "../../probe/index.ts";
import { parseDuration, stdoutIsTerminal } from "../../ui/index.ts";
import type { Tally } from "./render.ts";
import { jsonSink, junitSink, terminalSink, type ProbeSink } from "./sinks.ts";
import { LineWriter } from "../../ui/index.ts";

export interface ProbeOptions {
  file?: string;
  timeout: string;
  retries: string;
  retryDelay: string;
  expect: string[];
  concurrency: string;
  method: string;
  header: string[];
  json?: boolean;
  junit?: string;
  quiet?: boolean;
  insecure?: boolean;
  ca?: string;
  maxBody: string;
}

interface PlannedProbe {
  plan: ProbePlan;
  settings: ProbeSettings;
}

function integerOption(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usageError("E_USAGE_OPTION", `invalid ${name} "${text}"`, `use a whole number from ${min} to ${max}`);
  }
  return value;
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

async function readCa(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  const text = await Bun.file(file).text().catch((error: Error) => {
    throw usageError("E_USAGE_CA", `cannot read --ca ${file}: ${error.message}`, "pass a PEM file of CA certificates");
  });
  if (!text.includes("-----BEGIN CERTIFICATE-----")) throw usageError("E_USAGE_CA", `--ca ${file} holds no PEM certificate`, "pass a PEM file (-----BEGIN CERTIFICATE-----)");
  return text;
}

/** Turns CLI arguments and -f entries into plans; every error surfaces before any probe runs. */
async function planProbes(targets: string[], options: ProbeOptions): Promise<PlannedProbe[]> {
  const base: ProbeSettings = {
    timeoutMs: parseDuration(options.timeout, "--timeout"),
    retries: integerOption(options.retries, "--retries", 0, 100),
    retryDelayMs: parseDuration(options.retryDelay, "--retry-delay"),
    insecure: options.insecure === true,
    ca: await readCa(options.ca),
    maxBodyBytes: integerOption(options.maxBody, "--max-body", 0, 1 << 30),
  };
  const headers = parseHeaders(options.header);
  const entries: TargetEntry[] = targets.map((url, i) => ({ url, labels: {}, expect: [], where: `argument ${i + 1}` }));
  if (options.file) entries.push(...(await readTargetFile(options.file)));
  if (entries.length === 0) throw usageError("E_USAGE_NO_TARGETS", "no targets given", "pass URLs as arguments or -f FILE, e.g. opskit probe http://127.0.0.1:8080/health");

  // Expressions are compiled once per distinct text, however many targets share them;
  // an error names where the text first appeared.
  const firstSeen = new Map<string, string>();
  options.expect.forEach((source, i) => firstSeen.has(source) || firstSeen.set(source, `--expect #${i + 1}`));
  for (const entry of entries) for (const source of entry.expect) if (!firstSeen.has(source)) firstSeen.set(source, `${entry.where}: expect`);
  const sources = [...firstSeen.keys()];
  const list = await compileExpectations(sources, (i) => firstSeen.get(sources[i]!)!, expectationVariables);
  const compiled = new Map(sources.map((source, i) => [source, list[i]!]));

  return entries.map((entry) => {
    const request = { method: entry.method ?? options.method, headers: { ...headers, ...entry.headers }, body: entry.body };
    const target = parseTarget(entry.url, entry.where.startsWith("argument") ? "target" : `${entry.where}: target`, request);
    const sources = [...options.expect, ...entry.expect];
    const settings = {
      ...base,
      ...(entry.timeout ? { timeoutMs: parseDuration(entry.timeout, `${entry.where} timeout`) } : {}),
      ...(entry.retries !== undefined ? { retries: entry.retries } : {}),
    };
    return {
      plan: { target, name: entry.name ?? target.raw, labels: entry.labels, expectations: [...new Set(sources)].map((s) => compiled.get(s)!) },
      settings,
    };
  });
}

const exitSeverity = [ExitCode.interrupted, ExitCode.transport, ExitCode.check, ExitCode.ok];

/** The worst exit code wins: interrupted, then unreachable, then unhealthy. */
function worse(a: number, b: number): number {
  return exitSeverity.indexOf(a as never) <= exitSeverity.indexOf(b as never) ? a : b;
}

export async function probeCommand(targets: string[], options: ProbeOptions): Promise<number> {
  const concurrency = integerOption(options.concurrency, "--concurrency", 1, 100_000);
  const planned = await planProbes(targets, options);
  const out = new LineWriter();
  const sinks: ProbeSink[] = [
    options.json
      ? jsonSink(out)
      : terminalSink(out, {
          quiet: options.quiet === true,
          nameWidth: Math.min(48, Math.max(...planned.map((p) => p.plan.name.length))),
          terminal: stdoutIsTerminal(),
        }),
    ...(options.junit ? [junitSink(options.junit)] : []),
  ];
  const started = performance.now();
  const tally: Tally = { targets: planned.length, healthy: 0, unhealthy: 0, down: 0, interrupted: 0, notStarted: 0, durationMs: 0, exitCode: ExitCode.ok };

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(ExitCode.interrupted);
    console.error("\nopskit: interrupted; stopping (Ctrl-C again to quit at once)");
    controller.abort(new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted }));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let seen = 0;
  try {
    const pool = runPool(planned, (p, signal) => runProbe(p.plan, p.settings, signal), { concurrency, signal: controller.signal });
    for await (const outcome of pool) {
      seen++;
      if ("error" in outcome) throw outcome.error;
      const result = outcome.value;
      tally[result.verdict]++;
      tally.exitCode = worse(tally.exitCode, result.exitCode);
      for (const sink of sinks) await sink.result(result);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  tally.notStarted = planned.length - seen;
  if (tally.notStarted > 0 || controller.signal.aborted) tally.exitCode = ExitCode.interrupted;
  tally.durationMs = performance.now() - started;
  for (const sink of sinks) await sink.end(tally);
  out.flush();
  return tally.exitCode;
}
