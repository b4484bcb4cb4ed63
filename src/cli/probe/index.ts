import { ExitCode, OpsError, usageError } from "../../errors.ts";
import { compileExpectations } from "../../expr/index.ts";
import { runPool } from "../../engine/index.ts";
import {
  expectationVariables,
  parseTarget,
  readTargetFile,
  runProbe,
  type ProbePlan,
  type ProbeResult,
  type ProbeSettings,
  type TargetEntry,
} from "../../probe/index.ts";
import { paletteFor, parseDuration } from "../../ui/index.ts";
import { junitReport } from "./junit.ts";
import { formatResultLine, formatSummary, resultJson, type Tally } from "./render.ts";
import { LineWriter } from "./writer.ts";

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

/** Bun.stdout.stat() rather than process.stdout.isTTY, whose first use costs startup time. */
async function stdoutIsTerminal(): Promise<boolean> {
  try {
    return (await Bun.stdout.stat()).isCharacterDevice();
  } catch {
    return false;
  }
}

export async function probeCommand(targets: string[], options: ProbeOptions): Promise<number> {
  const concurrency = integerOption(options.concurrency, "--concurrency", 1, 100_000);
  const planned = await planProbes(targets, options);
  const out = new LineWriter();
  // Asked early and awaited late: the stat overlaps the first probes.
  const terminal = options.json ? Promise.resolve(false) : stdoutIsTerminal();
  let palette = paletteFor({ isTTY: false });
  const nameWidth = Math.min(48, Math.max(...planned.map((p) => p.plan.name.length)));
  const started = performance.now();
  const timestamp = new Date().toISOString();
  const tally: Tally = { targets: planned.length, healthy: 0, unhealthy: 0, down: 0, interrupted: 0, notStarted: 0, durationMs: 0, exitCode: ExitCode.ok };
  const failures: ProbeResult[] = [];
  const finished: ProbeResult[] = [];
  const keepAll = options.junit !== undefined;

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    console.error("\nopskit: interrupted; stopping (Ctrl-C again to quit at once)");
    controller.abort(new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted }));
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);

  let seen = 0;
  try {
    const pool = runPool(planned, (p, signal) => runProbe(p.plan, p.settings, signal), { concurrency, signal: controller.signal });
    for await (const outcome of pool) {
      if (seen++ === 0) palette = paletteFor({ isTTY: await terminal });
      if ("error" in outcome) throw outcome.error;
      const result = outcome.value;
      tally[result.verdict]++;
      tally.exitCode = worse(tally.exitCode, result.exitCode);
      if (keepAll) finished.push(result);
      if (result.verdict === "interrupted") continue;
      if (result.verdict !== "healthy") failures.push(result);
      if (options.json) out.line(resultJson(result));
      else if (!options.quiet || result.verdict !== "healthy") out.line(formatResultLine(result, nameWidth, palette));
    }
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }

  if (seen === 0) palette = paletteFor({ isTTY: await terminal });
  tally.notStarted = planned.length - seen;
  if (tally.notStarted > 0 || controller.signal.aborted) tally.exitCode = ExitCode.interrupted;
  tally.durationMs = performance.now() - started;
  if (options.json) {
    out.line(JSON.stringify({ type: "summary", ...tally, durationMs: Math.round(tally.durationMs * 1000) / 1000 }));
  } else {
    if (failures.length > 0 && planned.length > 1 && !options.quiet) {
      out.line("");
      out.line(palette.bold("failures:"));
      for (const failure of failures.slice(0, 20)) out.line(`  ${failure.name}: ${failure.reason ?? failure.verdict}`);
      if (failures.length > 20) out.line(`  ... and ${failures.length - 20} more`);
    }
    out.line(formatSummary(tally, palette));
  }
  out.flush();
  if (options.junit) await Bun.write(options.junit, junitReport(finished.filter((r) => r.verdict !== "interrupted"), tally.durationMs, timestamp));
  return tally.exitCode;
}
