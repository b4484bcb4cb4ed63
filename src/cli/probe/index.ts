import { ExitCode, OpsError } from "../../errors.ts";
import { fanOut, type Sink } from "../../observe/index.ts";
import type { ProbeEvent } from "../../probe/index.ts";
import { LineWriter, stdoutIsTerminal } from "../../ui/index.ts";
import { probeAll } from "./loop.ts";
import { gatherEntries, planEntries, type ProbeOptions } from "./plan.ts";
import { jsonSink, junitSink, terminalSink } from "./sinks.ts";

export type { ProbeOptions } from "./plan.ts";

export async function probeCommand(targets: string[], options: ProbeOptions): Promise<number> {
  const entries = await gatherEntries(targets, options);
  // Planned here even when workers run the probes: every error surfaces before anything runs.
  const planned = await planEntries(entries, options);
  const out = new LineWriter();
  // A loop, not Math.max(...planned.map()): see plan.ts on builtins at startup.
  let nameWidth = 0;
  for (const p of planned) nameWidth = Math.max(nameWidth, p.plan.name.length);
  const junit = options.junit ? junitSink(options.junit) : undefined;
  const sinks: Sink<ProbeEvent>[] = [
    options.json
      ? jsonSink(out)
      : terminalSink(out, {
          quiet: options.quiet,
          nameWidth: Math.min(48, nameWidth),
          terminal: stdoutIsTerminal(),
        }),
    ...(junit ? [junit] : []),
  ];

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(ExitCode.interrupted);
    console.error("\nopskit: interrupted; stopping (Ctrl-C again to quit at once)");
    controller.abort(new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted }));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const tally = await probeAll({ entries, planned, options, signal: controller.signal, emit: fanOut(sinks) });
    await junit?.drained();
    return tally.exitCode;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    out.flush();
  }
}
