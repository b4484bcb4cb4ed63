import { ExitCode } from "../errors.ts";
import type { ProbeResult } from "./types.ts";

/** How a set of probes went: counts by verdict, the time taken and the exit code they add up to. */
export interface ProbeTally {
  targets: number;
  healthy: number;
  unhealthy: number;
  down: number;
  interrupted: number;
  /** Targets never probed because the run was interrupted first. */
  notStarted: number;
  durationMs: number;
  exitCode: number;
}

/**
 * What a run of probes emits: each target's result as it comes in, then the
 * tally once all are in. `at` is when, in epoch milliseconds. The terminal,
 * --json and JUnit outputs are sinks of these.
 */
export type ProbeEvent = { type: "probe.result"; at: number; result: ProbeResult } | { type: "probe.finished"; at: number; tally: ProbeTally };

const exitSeverity: readonly number[] = [ExitCode.interrupted, ExitCode.transport, ExitCode.check, ExitCode.ok];

/** The worse of two exit codes: interrupted, then unreachable, then unhealthy, then ok. */
export function worseExit(a: number, b: number): number {
  return exitSeverity.indexOf(a) <= exitSeverity.indexOf(b) ? a : b;
}

/**
 * Counts results as they arrive and closes the count when the run ends: what
 * never got a result was not started, and then the whole run is interrupted.
 */
export class ProbeCounter {
  readonly tally: ProbeTally;
  private readonly started = performance.now();
  private seen = 0;

  constructor(targets: number) {
    this.tally = { targets, healthy: 0, unhealthy: 0, down: 0, interrupted: 0, notStarted: 0, durationMs: 0, exitCode: ExitCode.ok };
  }

  count(result: ProbeResult): void {
    this.seen++;
    this.tally[result.verdict]++;
    this.tally.exitCode = worseExit(this.tally.exitCode, result.exitCode);
  }

  finish(aborted: boolean): ProbeTally {
    const tally = this.tally;
    tally.notStarted = tally.targets - this.seen;
    if (tally.notStarted > 0 || aborted) tally.exitCode = ExitCode.interrupted;
    tally.durationMs = performance.now() - this.started;
    return tally;
  }
}
