import { ExitCode, OpsError } from "../../errors.ts";
import { runPool } from "../../engine/index.ts";
import { runProbe, type ProbeResult } from "../../probe/index.ts";
import { LineWriter, stdoutIsTerminal } from "../../ui/index.ts";
import { gatherEntries, planEntries, type ProbeOptions } from "./plan.ts";
import type { Tally } from "./render.ts";
import { runSharded, shardCount } from "./shard.ts";
import { jsonSink, junitSink, terminalSink, type ProbeSink } from "./sinks.ts";

export type { ProbeOptions } from "./plan.ts";

const exitSeverity = [ExitCode.interrupted, ExitCode.transport, ExitCode.check, ExitCode.ok];

/** The worst exit code wins: interrupted, then unreachable, then unhealthy. */
function worse(a: number, b: number): number {
  return exitSeverity.indexOf(a as never) <= exitSeverity.indexOf(b as never) ? a : b;
}

export async function probeCommand(targets: string[], options: ProbeOptions): Promise<number> {
  const { concurrency, workers: requestedWorkers } = options;
  const entries = await gatherEntries(targets, options);
  // Planned here even when workers run the probes: every error surfaces before anything runs.
  const planned = await planEntries(entries, options);
  const out = new LineWriter();
  const sinks: ProbeSink[] = [
    options.json
      ? jsonSink(out)
      : terminalSink(out, {
          quiet: options.quiet,
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
  const deliver = async (result: ProbeResult) => {
    seen++;
    tally[result.verdict]++;
    tally.exitCode = worse(tally.exitCode, result.exitCode);
    for (const sink of sinks) await sink.result(result);
  };
  try {
    const workers = shardCount(planned.length, concurrency, requestedWorkers);
    if (workers > 1) {
      await runSharded(entries, options, workers, concurrency, deliver, controller.signal);
    } else {
      for await (const outcome of runPool(planned, (p, signal) => runProbe(p.plan, p.settings, signal), { concurrency, signal: controller.signal })) {
        if ("error" in outcome) throw outcome.error;
        await deliver(outcome.value);
      }
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
