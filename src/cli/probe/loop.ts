import type { Sink } from "../../observe/index.ts";
import { ProbeCounter, runProbe, type ProbeEvent, type ProbeResult, type ProbeTally, type TargetEntry } from "../../probe/index.ts";
import type { PlannedProbe, ProbeOptions } from "./plan.ts";
import { runSharded, shardCount } from "./shard.ts";

export interface ProbeRun {
  /** The targets as read, for worker threads (they plan their share again). */
  entries: TargetEntry[];
  planned: PlannedProbe[];
  options: ProbeOptions;
  signal: AbortSignal;
  emit: Sink<ProbeEvent>;
}

/**
 * Probes every planned target, on several threads for large lists, emitting
 * each result as it arrives and then the tally, which it also returns.
 * Aborting `signal` stops new probes; those never started are counted.
 */
export async function probeAll(run: ProbeRun): Promise<ProbeTally> {
  const { entries, planned, options, signal, emit } = run;
  const counter = new ProbeCounter(planned.length);
  const deliver = (result: ProbeResult) => {
    counter.count(result);
    emit({ type: "probe.result", at: Date.now(), result });
  };
  const probeHere = async (share: readonly PlannedProbe[], concurrency: number) => {
    // One target (`opskit probe URL`, the command that must start as fast as
    // curl) needs no pool: it is probed at once, and the engine is never loaded.
    // (Not started once interrupted, as the pool would not start it.)
    if (share.length === 1) return signal.aborted ? undefined : deliver(await runProbe(share[0]!.plan, share[0]!.settings, signal));
    const { runPool } = await import("../../engine/index.ts");
    for await (const outcome of runPool(share, (p, probeSignal) => runProbe(p.plan, p.settings, probeSignal), { concurrency, signal })) {
      if ("error" in outcome) throw outcome.error;
      deliver(outcome.value);
    }
  };
  const threads = shardCount(planned.length, options.concurrency, options.workers);
  if (threads > 1) {
    await runSharded(entries, options, threads, (mine, concurrency) => probeHere(planned.filter((_, i) => mine(i)), concurrency), deliver, signal);
  } else {
    await probeHere(planned, options.concurrency);
  }
  const tally = counter.finish(signal.aborted);
  emit({ type: "probe.finished", at: Date.now(), tally });
  return tally;
}
