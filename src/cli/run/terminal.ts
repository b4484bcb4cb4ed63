import type { EventSink, RunEvent } from "../../engine/index.ts";
import { foldHostNames, formatMs, type LineWriter, type Palette } from "../../ui/index.ts";

type StepFinished = Extract<RunEvent, { type: "step.finished" }>;
type TargetFinished = Extract<RunEvent, { type: "target.finished" }>;

export interface TerminalOptions {
  palette: Palette;
  /** Rewrites one progress line in place on a terminal (stderr); without it a line per finished target is printed. */
  progress?: (text: string) => void;
  /** Print remote output as it arrives, each line prefixed with its host. */
  stream: boolean;
  /** Ad-hoc exec: fold the command's output; workflows fold the per-target recap. */
  foldOutput: boolean;
  journalLocation?: string;
}

const statusWord: Record<string, string> = {
  ok: "ok",
  changed: "changed",
  failed: "FAILED",
  unreachable: "UNREACHABLE",
  skipped: "skipped",
  rolled_back: "rolled back",
  pending: "not started",
};

/** Groups items by a key, keeping first-seen order. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return [...groups.values()];
}

const indent = (text: string) =>
  text
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");

/**
 * What people see of a run: progress while it runs, then a recap with
 * identical results folded under one host set, the failures repeated where
 * the eye lands, and a one-line summary.
 */
export function terminalRunSink(out: LineWriter, options: TerminalOptions): EventSink {
  const { palette } = options;
  const steps: StepFinished[] = [];
  const finished = new Map<string, TargetFinished>();
  const partial = new Map<string, string>();
  let total = 0;
  let batch = "";
  let progressShown = false;

  const clearProgress = () => {
    if (progressShown) options.progress?.("\r\x1b[2K");
    progressShown = false;
    out.flush();
  };
  const showProgress = () => {
    if (!options.progress) return;
    out.flush();
    const failed = [...finished.values()].filter((t) => t.status === "failed" || t.status === "unreachable").length;
    options.progress(`\r\x1b[2K${batch}${finished.size}/${total} done${failed ? `, ${palette.red(`${failed} failed`)}` : ""}`);
    progressShown = true;
  };
  const paint = (status: string, text: string) =>
    status === "failed" || status === "unreachable" ? palette.red(text) : status === "changed" ? palette.yellow(text) : status === "ok" ? palette.green(text) : text;

  return (event) => {
    switch (event.type) {
      case "run.started":
        total = event.targets.length;
        out.line(palette.bold(`${event.kind === "exec" ? "exec" : "run"} ${event.name} · ${total} target${total === 1 ? "" : "s"}${event.batches.length > 1 ? ` in ${event.batches.length} batches` : ""} · ${event.runId}`));
        return;
      case "batch.started":
        if (event.of > 1) {
          batch = `[batch ${event.batch}/${event.of}] `;
          if (!options.progress) out.line(palette.dim(`batch ${event.batch}/${event.of}: ${foldHostNames(event.targets)}`));
        }
        showProgress();
        return;
      case "step.output": {
        if (!options.stream) return;
        const key = `${event.target}\u0000${event.stream}`;
        const lines = ((partial.get(key) ?? "") + event.text).split("\n");
        partial.set(key, lines.pop() ?? "");
        clearProgress();
        for (const line of lines) out.line(`${palette.dim(`${event.target} |`)} ${event.stream === "stderr" ? palette.red(line) : line}`);
        showProgress();
        return;
      }
      case "step.finished":
        steps.push(event);
        return;
      case "target.finished":
        finished.set(event.target, event);
        if (options.progress) showProgress();
        else out.line(`${paint(event.status, (statusWord[event.status] ?? event.status).padEnd(12))} ${event.target}  ${formatMs(event.durationMs)}${event.error ? `  ${event.error}` : ""}`);
        return;
      case "run.stopping":
        clearProgress();
        out.line(palette.red(`stopping: ${event.detail}`));
        return;
      case "rollback.started":
        clearProgress();
        out.line(palette.yellow(`rolling back ${event.targets.length} changed target${event.targets.length === 1 ? "" : "s"}: ${foldHostNames(event.targets)}`));
        return;
      case "run.finished":
        clearProgress();
        printRecap(out, options, steps, finished);
        out.line(
          `${event.counts.targets} target${event.counts.targets === 1 ? "" : "s"}: ${[
            palette.green(`${event.counts.ok} ok`),
            palette.yellow(`${event.counts.changed} changed`),
            palette.red(`${event.counts.failed} failed`),
            palette.red(`${event.counts.unreachable} unreachable`),
            `${event.counts.skipped} skipped`,
            ...(event.counts.notStarted ? [`${event.counts.notStarted} not started`] : []),
            ...(event.counts.rolledBack ? [`${event.counts.rolledBack} rolled back`] : []),
          ].join(", ")} in ${formatMs(event.durationMs)} · ${event.status} · run ${event.runId}`,
        );
        return;
      default:
        return;
    }
  };
}

function printRecap(out: LineWriter, options: TerminalOptions, steps: StepFinished[], finished: Map<string, TargetFinished>): void {
  const { palette } = options;
  out.line("");
  if (options.foldOutput) {
    // Identical results (same exit code, stdout and stderr) under one host set; the few that differ apart.
    const main = steps.filter((s) => s.phase === "main");
    const groups = groupBy(main, (s) => JSON.stringify([s.status, s.result.exitCode, s.result.stdout, s.result.stderr, s.result.error?.message]));
    groups.sort((a, b) => b.length - a.length);
    for (const group of groups) {
      const first = group[0]!;
      const hosts = foldHostNames(group.map((s) => s.target));
      const what = first.status === "unreachable" ? "unreachable" : first.result.exitCode === null ? (first.result.error?.message ?? first.status) : `exit ${first.result.exitCode}`;
      const ok = first.status === "ok" || first.status === "changed";
      out.line(`${ok ? palette.green(hosts) : palette.red(hosts)} (${group.length}): ${what}${first.result.error && first.result.exitCode !== null ? ` · ${first.result.error.message}` : ""}`);
      if (first.result.stdout) out.line(indent(first.result.stdout));
      if (first.result.stderr) out.line(palette.red(indent(first.result.stderr)));
    }
  } else {
    const recap = [...finished.values()].map((t) => {
      const mine = steps.filter((s) => s.target === t.target);
      const count = (status: string) => mine.filter((s) => s.status === status).length;
      return { target: t.target, status: t.status, line: `ok=${count("ok")} changed=${count("changed")} failed=${count("failed")} skipped=${count("skipped")} unreachable=${count("unreachable")}` };
    });
    for (const group of groupBy(recap, (r) => `${r.status} ${r.line}`)) {
      const first = group[0]!;
      out.line(`${(statusWord[first.status] ?? first.status).padEnd(12)} ${foldHostNames(group.map((g) => g.target))} (${group.length})  ${first.line}`);
    }
  }
  const failures = steps.filter((s) => s.status === "failed" || s.status === "unreachable");
  if (failures.length > 0) {
    out.line("");
    out.line(palette.bold("failures:"));
    for (const group of groupBy(failures, (s) => JSON.stringify([s.phase, s.name, s.result.error?.message, s.result.stderr.slice(-200)]))) {
      const first = group[0]!;
      out.line(`  ${palette.red(foldHostNames(group.map((s) => s.target)))} ${first.phase === "main" ? "" : `${first.phase} `}${first.name}: ${first.result.error?.message ?? first.status}`);
      const tail = first.result.stderr.trim().split("\n").slice(-3).join("\n");
      if (tail && !options.foldOutput) out.line(palette.dim(indent(tail)));
    }
  }
  out.line("");
}
