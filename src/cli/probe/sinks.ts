import type { ProbeResult } from "../../probe/index.ts";
import { jsonLine, paletteFor, type Palette } from "../../ui/index.ts";
import { junitReport } from "./junit.ts";
import { formatResultLine, formatSummary, resultJson, type Tally } from "./render.ts";
import type { LineWriter } from "../../ui/index.ts";

/**
 * Where probe results go. The run loop only counts and hands each result to
 * its sinks; a new output format is a new sink.
 */
export interface ProbeSink {
  result(result: ProbeResult): void | Promise<void>;
  end(tally: Tally): void | Promise<void>;
}

/** Lines for people: one per target, failures repeated at the bottom, a summary. */
export function terminalSink(out: LineWriter, options: { quiet: boolean; nameWidth: number; terminal: boolean }): ProbeSink {
  const colours: Palette = paletteFor({ isTTY: options.terminal });
  const failures: ProbeResult[] = [];
  let targets = 0;
  return {
    result(result) {
      targets++;
      if (result.verdict === "interrupted") return;
      if (result.verdict !== "healthy") failures.push(result);
      if (!options.quiet || result.verdict !== "healthy") out.line(formatResultLine(result, options.nameWidth, colours));
    },
    end(tally) {
      if (failures.length > 0 && targets > 1 && !options.quiet) {
        out.line("");
        out.line(colours.bold("failures:"));
        for (const failure of failures.slice(0, 20)) out.line(`  ${failure.name}: ${failure.reason ?? failure.verdict}`);
        if (failures.length > 20) out.line(`  ... and ${failures.length - 20} more`);
      }
      out.line(formatSummary(tally, colours));
    },
  };
}

/** JSON lines: one object per target, then the summary. */
export function jsonSink(out: LineWriter): ProbeSink {
  return {
    result(result) {
      if (result.verdict !== "interrupted") out.line(resultJson(result));
    },
    end(tally) {
      out.line(jsonLine({ type: "summary", ...tally }));
    },
  };
}

/** A JUnit XML file written once the run ends. */
export function junitSink(file: string): ProbeSink {
  const timestamp = new Date().toISOString();
  const finished: ProbeResult[] = [];
  return {
    result(result) {
      if (result.verdict !== "interrupted") finished.push(result);
    },
    async end(tally) {
      await Bun.write(file, junitReport(finished, tally.durationMs, timestamp));
    },
  };
}
