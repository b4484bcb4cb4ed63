import { runPool } from "../../engine/index.ts";
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
 * Probes every planned target, on worker threads for large lists, emitting
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
  const workers = shardCount(planned.length, options.concurrency, options.workers);
  if (workers > 1) {
    await runSharded(entries, options, workers, options.concurrency, deliver, signal);
  } else {
    for await (const outcome of runPool(planned, (p, probeSignal) => runProbe(p.plan, p.settings, probeSignal), { concurrency: options.concurrency, signal })) {
      if ("error" in outcome) throw outcome.error;
      deliver(outcome.value);
    }
  }
  const tally = counter.finish(signal.aborted);
  emit({ type: "probe.finished", at: Date.now(), tally });
  return tally;
}
