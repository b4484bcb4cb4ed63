import type { Sink } from "../../observe/index.ts";
import type { ProbeEvent, ProbeResult } from "../../probe/index.ts";
import { jsonLinesSink, paletteFor, type LineWriter, type Palette } from "../../ui/index.ts";
import { junitReport } from "./junit.ts";
import { formatResultLine, formatSummary } from "./render.ts";

/** Lines for people: one per target, failures repeated at the bottom, a summary. */
export function terminalSink(out: LineWriter, options: { quiet: boolean; nameWidth: number; terminal: boolean }): Sink<ProbeEvent> {
  const colours: Palette = paletteFor({ isTTY: options.terminal });
  const failures: ProbeResult[] = [];
  let targets = 0;
  return (event) => {
    if (event.type === "probe.result") {
      const result = event.result;
      targets++;
      if (result.verdict === "interrupted") return;
      if (result.verdict !== "healthy") failures.push(result);
      if (!options.quiet || result.verdict !== "healthy") out.line(formatResultLine(result, options.nameWidth, colours));
      return;
    }
    if (failures.length > 0 && targets > 1 && !options.quiet) {
      out.line("");
      out.line(colours.bold("failures:"));
      for (const failure of failures.slice(0, 20)) out.line(`  ${failure.name}: ${failure.reason ?? failure.verdict}`);
      if (failures.length > 20) out.line(`  ... and ${failures.length - 20} more`);
    }
    out.line(formatSummary(event.tally, colours));
  };
}

/**
 * `--json`: the lines scripts have always read, a "result" line per target
 * with the result's fields at the top level, then a "summary" line with the
 * tally's; each opens with `at`, as every opskit JSON line does.
 */
export function jsonSink(out: LineWriter): Sink<ProbeEvent> {
  const write = jsonLinesSink<object>((line) => out.line(line));
  return (event) => {
    if (event.type === "probe.finished") write({ at: event.at, type: "summary", ...event.tally });
    else if (event.result.verdict !== "interrupted") write({ at: event.at, type: "result", ...event.result });
  };
}

/** A JUnit XML file written once the run ends; `drained` settles when it is on disk. */
export function junitSink(file: string): Sink<ProbeEvent> & { drained(): Promise<void> } {
  const timestamp = new Date().toISOString();
  const finished: ProbeResult[] = [];
  // Settled with the write's failure, if any, so that it is never an unhandled rejection before drained() is awaited.
  let written: Promise<unknown> = Promise.resolve();
  const sink = (event: ProbeEvent) => {
    if (event.type === "probe.result") {
      if (event.result.verdict !== "interrupted") finished.push(event.result);
    } else written = Bun.write(file, junitReport(finished, event.tally.durationMs, timestamp)).then(() => undefined, (error: unknown) => error);
  };
  return Object.assign(sink, {
    drained: async () => {
      const failure = await written;
      if (failure !== undefined) throw failure;
    },
  });
}
