import type { OpsError } from "../../errors.ts";
import { interruptedError } from "./errors.ts";

/**
 * One signal for "the caller gave up or the time ran out", whose reason is
 * the OpsError to report. Every wait in this module races against one.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Stops the timer and detaches from the caller's signal. */
  dispose(): void;
}

export function startDeadline(signal: AbortSignal, timeoutMs: number, onTimeout: () => OpsError): Deadline {
  const controller = new AbortController();
  const onAbort = () => controller.abort(interruptedError(signal));
  const timer = setTimeout(() => controller.abort(onTimeout()), Math.max(0, timeoutMs));
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    },
  };
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(reasonOf(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reasonOf(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Deadline signals carry an OpsError; a plain caller signal means an interruption. */
export function reasonOf(signal: AbortSignal): OpsError {
  return interruptedError(signal);
}

/** Resolves after `ms`, or earlier when the signal aborts: for bounded grace periods. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
