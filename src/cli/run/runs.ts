import { usageError } from "../../errors.ts";
import { openJournal, type Journal, type RunRecord } from "../../journal/index.ts";
import { commandJournal } from "../journal-options.ts";
import { prepareResume } from "../../runs/index.ts";
import { foldHostNames, formatMs, LineWriter } from "../../ui/index.ts";
import type { OptionsOf } from "../options.ts";
import { startRun } from "./index.ts";
import type { runsSpec } from "./spec.ts";

type RunsOptions = OptionsOf<typeof runsSpec>;

const when = (iso: string | undefined) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-");

function duration(run: RunRecord): string {
  if (!run.finishedAt) return "-";
  return formatMs(new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime());
}

async function listRuns(journal: Journal, options: RunsOptions, out: LineWriter): Promise<number> {
  const runs = await journal.listRuns({ limit: options.limit });
  if (options.json) {
    for (const run of runs) out.line(JSON.stringify(run));
    return 0;
  }
  const rows = runs.map((run) => {
    const counts = (run.summary?.counts ?? {}) as Record<string, number>;
    const tally = run.summary ? `${counts.ok ?? 0} ok, ${counts.changed ?? 0} changed, ${counts.failed ?? 0} failed, ${counts.unreachable ?? 0} unreachable` : "";
    return [run.id, when(run.startedAt), run.status, duration(run), `${run.kind} ${run.name}`, tally];
  });
  const header = ["RUN", "STARTED", "STATUS", "TOOK", "WHAT", "TARGETS"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) out.line(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  out.line(`${runs.length} run${runs.length === 1 ? "" : "s"} in ${journal.location}`);
  return 0;
}

async function showRun(journal: Journal, id: string, options: RunsOptions, out: LineWriter): Promise<number> {
  const found = await journal.getRun(id);
  if (!found) throw usageError("E_NO_RUN", `no run ${id} in ${journal.location}`, "opskit runs lists the runs in the journal");
  if (options.json) {
    out.line(JSON.stringify(found));
    return 0;
  }
  const { run, targets, steps } = found;
  out.line(`run ${run.id}: ${run.kind} ${run.name} · ${run.status} · started ${when(run.startedAt)} · took ${duration(run)}${run.resumedFrom ? ` · resumes ${run.resumedFrom}` : ""}`);
  // The W3C trace id: the run's spans in a collector (a remediation's trace is its incident's).
  if (run.traceId) out.line(`trace: ${run.traceId}`);
  if (Object.keys(run.params.vars).length > 0) out.line(`vars: ${JSON.stringify(run.params.vars)}`);
  const width = Math.max(6, ...targets.map((t) => t.target.length));
  out.line(`${"TARGET".padEnd(width)}  BATCH  STATUS       TOOK      STEPS`);
  for (const target of targets) {
    const mine = steps.filter((s) => s.target === target.target);
    const stepText = mine.map((s) => `${s.phase === "main" ? "" : `${s.phase}:`}${s.name}=${s.status}(${formatMs(s.durationMs)})`).join(" ");
    out.line(
      `${target.target.padEnd(width)}  ${String(target.batch).padStart(5)}  ${target.status.padEnd(11)}  ${(target.durationMs === undefined ? "-" : formatMs(target.durationMs)).padEnd(8)}  ${stepText}${target.rollbackOwed ? "  (rollback owed)" : ""}`,
    );
  }
  const failed = steps.filter((s) => s.status === "failed" || s.status === "unreachable");
  if (failed.length > 0) {
    out.line("failures:");
    for (const step of failed) out.line(`  ${step.target} ${step.name}: ${step.error ?? step.status}${step.stderr ? `\n    ${step.stderr.trim().split("\n").slice(-3).join("\n    ")}` : ""}`);
  }
  return 0;
}

/**
 * `opskit runs resume ID`: continues a failed or interrupted run where it
 * stopped (see prepareResume), saying what runs again.
 */
async function resumeRun(journal: Journal, id: string, options: RunsOptions): Promise<number> {
  const resumption = await prepareResume(journal, id);
  const { prepared, redo, owed, progress } = resumption;
  if (!prepared) {
    console.log(`run ${id} has nothing left to do (${resumption.status})`);
    return 0;
  }
  console.error(`resuming ${id}: ${redo.length} target${redo.length === 1 ? "" : "s"} to run${redo.length ? ` (${foldHostNames(redo)})` : ""}${owed.length ? `, ${owed.length} rollback${owed.length === 1 ? "" : "s"} owed (${foldHostNames(owed)})` : ""}; steps that finished in ${id} do not run again`);
  for (const step of progress?.unfinished.filter((s) => redo.includes(s.target)) ?? []) {
    console.error(`step ${step.name} on ${step.target} started in ${id} and did not finish: it runs again`);
  }
  return startRun(prepared, options, { owedRollback: resumption.owedRollback, ...(progress ? { progress } : {}) });
}

export async function runsCommand(args: string[], options: RunsOptions): Promise<number> {
  const [action = "list", id] = args;
  // Found once: a resumed run is recorded in the journal its run was read from, whatever config it loads.
  const location = await commandJournal(options);
  if (action === "resume") {
    if (!id) throw usageError("E_USAGE_RUNS", "runs resume needs a run id", "opskit runs lists them");
    const journal = await openJournal(location);
    try {
      return await resumeRun(journal, id, { ...options, journal: location });
    } finally {
      await journal.close();
    }
  }
  const journal = await openJournal(location);
  const out = new LineWriter();
  try {
    if (action === "list") return await listRuns(journal, options, out);
    if (action === "show") {
      if (!id) throw usageError("E_USAGE_RUNS", "runs show needs a run id", "opskit runs lists them");
      return await showRun(journal, id, options, out);
    }
    throw usageError("E_USAGE_RUNS", `unknown runs action "${action}"`, "use: opskit runs [list], runs show ID, runs resume ID");
  } finally {
    out.flush();
    await journal.close();
  }
}
