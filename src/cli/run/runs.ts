import { hostname } from "node:os";
import { loadConfig } from "../../config/index.ts";
import { compileWorkflow, configuredPolicy, priorProgress } from "../../engine/index.ts";
import { usageError } from "../../errors.ts";
import { resolveInventory } from "../../inventory/index.ts";
import { journalLocation, openJournal, type Journal, type RunRecord } from "../../journal/index.ts";
import { foldHostNames, formatMs, LineWriter, parseDuration } from "../../ui/index.ts";
import type { ParsedOptions } from "../options.ts";
import { localTarget } from "../../inventory/index.ts";
import { prepareExec, startRun, type PreparedRun } from "./index.ts";

const when = (iso: string | undefined) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-");

function duration(run: RunRecord): string {
  if (!run.finishedAt) return "-";
  return formatMs(new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime());
}

function listRuns(journal: Journal, options: ParsedOptions, out: LineWriter): number {
  const limit = Number(options.limit ?? 20);
  const runs = journal.listRuns({ limit: Number.isInteger(limit) && limit > 0 ? limit : 20 });
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

function showRun(journal: Journal, id: string, options: ParsedOptions, out: LineWriter): number {
  const found = journal.getRun(id);
  if (!found) throw usageError("E_NO_RUN", `no run ${id} in ${journal.location}`, "opskit runs lists the runs in the journal");
  if (options.json) {
    out.line(JSON.stringify(found));
    return 0;
  }
  const { run, targets, steps } = found;
  out.line(`run ${run.id}: ${run.kind} ${run.name} · ${run.status} · started ${when(run.startedAt)} · took ${duration(run)}${run.resumedFrom ? ` · resumes ${run.resumedFrom}` : ""}`);
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

/** A run left "running" by a process of this host that no longer exists (a remediation's is opskit serve's to decide). */
function processGone(run: RunRecord): boolean {
  if (!run.owner || run.owner.host !== hostname() || run.params.trigger) return false;
  try {
    process.kill(run.owner.pid, 0);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === "ESRCH";
  }
}

/**
 * Continues a failed or interrupted run: exactly the targets that failed,
 * were unreachable or never started, with the same vars, plus rollbacks
 * still owed. On each of them, the steps that finished in the run (its
 * journaled step progress) do not run again: the run continues from the
 * first unfinished one, and a step the run was cut off in runs again (so its
 * command must be safe to repeat). The config is loaded again from where the
 * run found it.
 */
async function resumeRun(journal: Journal, id: string, options: ParsedOptions): Promise<number> {
  const found = journal.getRun(id);
  if (!found) throw usageError("E_NO_RUN", `no run ${id} in ${journal.location}`, "opskit runs lists the runs in the journal");
  const { run, targets } = found;
  if (run.status === "running") {
    if (!processGone(run)) {
      const owner = run.owner ? ` by process ${run.owner.pid} on ${run.owner.host}` : "";
      const hint = run.params.trigger ? "a remediation run belongs to opskit serve: after a restart it decides by the rule's onInterrupted" : `wait for it to finish; opskit runs show ${id} shows how far it got`;
      throw usageError("E_RUN_ACTIVE", `run ${id} is still running${owner}`, hint);
    }
    // Killed (SIGKILL, a crash) before it could record its end: it was cut off where its step progress stops.
    journal.finishRun(id, "interrupted", { cutOff: `process ${run.owner!.pid} on ${run.owner!.host} is gone` });
  }
  // A wrapped legacy script is not replayed from the journal: its command line is the script's own.
  if (run.name.startsWith("wrap:")) throw usageError("E_RESUME_WRAP", `run ${id} wrapped a script (${run.name.slice(5)}); wrapped runs are not resumed`, "run the same opskit wrap command again");
  const owedNames = new Set(targets.filter((t) => t.rollbackOwed).map((t) => t.target));
  const redo = new Set(targets.filter((t) => !owedNames.has(t.target) && ["failed", "unreachable", "pending", "running"].includes(t.status)).map((t) => t.target));
  if (redo.size === 0 && owedNames.size === 0) {
    console.log(`run ${id} has nothing left to do (${run.status})`);
    return 0;
  }
  const params = run.params;
  // Relative config paths and targets files mean what they meant for the original run.
  process.chdir(params.cwd);
  const loaded = await loadConfig({ cwd: params.cwd, ...(params.configPath ? { path: params.configPath } : {}), ...(params.env ? { env: params.env } : {}) });
  const inventory = await resolveInventory(loaded);
  const byName = new Map(inventory.map((t) => [t.name, t]));
  const pick = (names: Set<string>) =>
    [...names].map((name) => {
      const target = name === "local" ? undefined : byName.get(name);
      if (!target && name !== "local") throw usageError("E_RESUME_TARGET", `target ${name} of run ${id} is no longer in the inventory`, "restore it, or start a new run");
      return target ?? localTarget;
    });
  let prepared: PreparedRun;
  if (run.kind === "exec") {
    prepared = await prepareExec([params.selector ?? "", params.command ?? ""], { ...options, config: params.configPath, env: params.env, concurrency: String(params.concurrency ?? 32), ...(params.policy ? { policy: params.policy } : {}) });
  } else {
    const workflow = loaded.config.workflows[params.workflow ?? run.name];
    if (!workflow) throw usageError("E_NO_WORKFLOW", `workflow ${run.name} is no longer in ${loaded.files.join(", ")}`, "restore it, or start a new run");
    // The same policy as the original run: its --policy file, else the config's policy:.
    const policy = await configuredPolicy(loaded, params.policy);
    const compiled = await compileWorkflow(workflow, {
      name: run.name,
      baseDir: loaded.baseDir,
      defaultTimeoutMs: parseDuration(loaded.config.defaults.stepTimeout ?? "5m"),
      where: (path) => loaded.where(path),
      ...(policy ? { policy } : {}),
    });
    prepared = { kind: "workflow", name: run.name, loaded, compiled, targets: [], vars: params.vars, params: { ...params, dryRun: false } };
  }
  prepared.targets = pick(redo);
  prepared.vars = params.vars;
  prepared.params = { ...prepared.params, vars: params.vars, dryRun: false };
  console.error(`resuming ${id}: ${redo.size} target${redo.size === 1 ? "" : "s"} to run${redo.size ? ` (${foldHostNames([...redo])})` : ""}${owedNames.size ? `, ${owedNames.size} rollback${owedNames.size === 1 ? "" : "s"} owed (${foldHostNames([...owedNames])})` : ""}; steps that finished in ${id} do not run again`);
  const progress = priorProgress(journal, id);
  for (const step of progress.unfinished.filter((s) => redo.has(s.target))) {
    console.error(`step ${step.name} on ${step.target} started in ${id} and did not finish: it runs again`);
  }
  return startRun(prepared, options, { resumedFrom: id, owedRollback: pick(owedNames), progress });
}

export async function runsCommand(args: string[], options: ParsedOptions): Promise<number> {
  const [action = "list", id] = args;
  if (action === "resume") {
    if (!id) throw usageError("E_USAGE_RUNS", "runs resume needs a run id", "opskit runs lists them");
    const journal = await openJournal(journalLocation(options.journal ? String(options.journal) : undefined));
    try {
      return await resumeRun(journal, id, options);
    } finally {
      journal.close();
    }
  }
  const journal = await openJournal(journalLocation(options.journal ? String(options.journal) : undefined));
  const out = new LineWriter();
  try {
    if (action === "list") return listRuns(journal, options, out);
    if (action === "show") {
      if (!id) throw usageError("E_USAGE_RUNS", "runs show needs a run id", "opskit runs lists them");
      return showRun(journal, id, options, out);
    }
    throw usageError("E_USAGE_RUNS", `unknown runs action "${action}"`, "use: opskit runs [list], runs show ID, runs resume ID");
  } finally {
    out.flush();
    journal.close();
  }
}
