import { OpsError, ExitCode } from "../errors.ts";

/** The phases a probe moves through; a failure names the one it stopped in. */
export type Phase = "dns" | "connect" | "proxy" | "tls" | "request" | "firstByte" | "transfer" | "check";

/** A failure that happened in a known phase of a protocol exchange. */
export class PhaseError extends OpsError {
  readonly phase: Phase;
  constructor(phase: Phase, code: string, message: string, options: { hint?: string; exitCode?: ExitCode; cause?: unknown } = {}) {
    super({ code, message, hint: options.hint, exitCode: options.exitCode ?? ExitCode.transport, cause: options.cause });
    this.phase = phase;
  }
}

/**
 * Tracks the current phase and how long each one took. Timings are in
 * milliseconds from performance.now(), so they are monotonic.
 */
export class PhaseClock {
  readonly startedAt = performance.now();
  readonly timings: Partial<Record<Phase, number>> = {};
  phase: Phase = "connect";
  private phaseStartedAt = this.startedAt;
  private stoppedAt: number | undefined;

  enter(phase: Phase): void {
    this.phase = phase;
    this.phaseStartedAt = performance.now();
  }

  /** Ends the current phase, records its duration and returns it. */
  finish(): number {
    const elapsed = performance.now() - this.phaseStartedAt;
    this.timings[this.phase] = elapsed;
    return elapsed;
  }

  /** Freezes the total: what follows (checking expectations) is not the probe's time. */
  stop(): void {
    this.stoppedAt ??= performance.now();
  }

  elapsed(): number {
    return (this.stoppedAt ?? performance.now()) - this.startedAt;
  }
}

/** Rejects when the signal aborts, naming the phase that was running. */
export function abortError(signal: AbortSignal, phase: Phase): PhaseError {
  const reason: unknown = signal.reason;
  if (reason instanceof PhaseError) return reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new PhaseError(phase, "E_TIMEOUT", "timed out", { hint: "raise --timeout, or check why the service is slow" });
  }
  if (reason instanceof OpsError && reason.code === "E_TIMEOUT") {
    return new PhaseError(phase, "E_TIMEOUT", reason.message, { hint: reason.hint });
  }
  return new PhaseError(phase, "E_INTERRUPTED", "interrupted", { exitCode: ExitCode.interrupted });
}
