import { hostname } from "node:os";
import { priorProgress, type PriorProgress } from "../engine/index.ts";
import { usageError } from "../errors.ts";
import { adHocTargets, localTarget, resolveInventory, type Target } from "../inventory/index.ts";
import type { Journal, RunRecord, RunStatus } from "../journal/index.ts";
import { prepareExec, prepareWorkflow } from "./prepare.ts";
import type { PreparedRun } from "./types.ts";

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

/** What a resume continues, or (no `prepared`) that the run has nothing left to do. */
export interface Resumption {
  runId: string;
  status: RunStatus;
  prepared?: PreparedRun;
  /** Targets that run again (failed, unreachable, never started), and those owing a rollback. */
  redo: string[];
  owed: string[];
  owedRollback: Target[];
  /** The steps that finished in the resumed run, and those it was cut off in. */
  progress?: PriorProgress;
}

/** The run to resume, found in the journal; one killed before it could record its end is marked interrupted here. */
async function resumableRun(journal: Journal, id: string) {
  const found = await journal.getRun(id);
  if (!found) throw usageError("E_NO_RUN", `no run ${id} in ${journal.location}`, "opskit runs lists the runs in the journal");
  const { run } = found;
  if (run.status === "running") {
    if (!processGone(run)) {
      const owner = run.owner ? ` by process ${run.owner.pid} on ${run.owner.host}` : "";
      const hint = run.params.trigger ? "a remediation run belongs to opskit serve: after a restart it decides by the rule's onInterrupted" : `wait for it to finish; opskit runs show ${id} shows how far it got`;
      throw usageError("E_RUN_ACTIVE", `run ${id} is still running${owner}`, hint);
    }
    // Killed (SIGKILL, a crash) before it could record its end: it was cut off where its step progress stops.
    await journal.finishRun(id, "interrupted", { cutOff: `process ${run.owner!.pid} on ${run.owner!.host} is gone` });
  }
  // A wrapped legacy script is not replayed from the journal: its command line is the script's own.
  if (run.name.startsWith("wrap:")) throw usageError("E_RESUME_WRAP", `run ${id} wrapped a script (${run.name.slice(5)}); wrapped runs are not resumed`, "run the same opskit wrap command again");
  return found;
}

/**
 * Prepares the continuation of a failed or interrupted run: exactly the
 * targets that failed, were unreachable or never started, with the same vars,
 * plus rollbacks still owed. On each of them, the steps that finished in the
 * run (its journaled step progress) do not run again: the run continues from
 * the first unfinished one, and a step the run was cut off in runs again (so
 * its command must be safe to repeat). The config is loaded again from where
 * the run found it, and the process moves to the run's directory, so that
 * relative config paths and targets files mean what they meant.
 */
export async function prepareResume(journal: Journal, id: string): Promise<Resumption> {
  const { run, targets } = await resumableRun(journal, id);
  const owed = targets.filter((t) => t.rollbackOwed).map((t) => t.target);
  const redo = targets.filter((t) => !owed.includes(t.target) && ["failed", "unreachable", "pending", "running"].includes(t.status)).map((t) => t.target);
  const { status } = run;
  if (redo.length === 0 && owed.length === 0) return { runId: id, status, redo, owed, owedRollback: [] };
  const params = run.params;
  process.chdir(params.cwd);
  const { emptyConfig, loadConfig } = await import("../config/index.ts");
  // `opskit exec -H` runs without a config when there is none: its hosts are named again from the recorded pattern.
  const loaded =
    params.hosts !== undefined && params.configFiles.length === 0
      ? await emptyConfig(params.cwd)
      : await loadConfig({ cwd: params.cwd, ...(params.configPath ? { path: params.configPath } : {}), ...(params.env ? { env: params.env } : {}) });
  const byName = new Map((params.hosts !== undefined ? await adHocTargets(loaded, params.hosts) : await resolveInventory(loaded)).map((t) => [t.name, t]));
  const pick = (names: string[]) =>
    names.map((name) => {
      const target = name === "local" ? localTarget : byName.get(name);
      if (!target) throw usageError("E_RESUME_TARGET", `target ${name} of run ${id} is no longer in the inventory`, "restore it, or start a new run");
      return target;
    });
  const origin = { ...(params.configPath ? { configPath: params.configPath } : {}), ...(params.env ? { env: params.env } : {}), ...(params.policy ? { policyPath: params.policy } : {}) };
  let prepared: PreparedRun;
  if (run.kind === "exec") {
    const exec = await prepareExec(loaded, { ...origin, selector: params.selector ?? "", ...(params.hosts !== undefined ? { hosts: params.hosts } : {}), command: params.command ?? "", concurrency: params.concurrency ?? 32, ...(params.become ? { become: params.become } : {}) });
    prepared = { ...exec, params: { ...exec.params, vars: params.vars } };
  } else {
    const name = params.workflow ?? run.name;
    if (!loaded.config.workflows[name]) throw usageError("E_NO_WORKFLOW", `workflow ${run.name} is no longer in ${loaded.files.join(", ")}`, "restore it, or start a new run");
    // The same policy as the original run (its --policy file, else the config's policy:), and its params as they were.
    prepared = { ...(await prepareWorkflow(loaded, { ...origin, name, targets: [] })), name: run.name, params: { ...params, dryRun: false } };
  }
  return {
    runId: id,
    status,
    prepared: { ...prepared, targets: pick(redo), vars: params.vars, params: { ...prepared.params, dryRun: false } },
    redo,
    owed,
    owedRollback: pick(owed),
    progress: await priorProgress(journal, id),
  };
}
