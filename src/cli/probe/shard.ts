import { ExitCode, OpsError } from "../../errors.ts";
import type { ProbeResult, TargetEntry } from "../../probe/index.ts";
import type { ProbeOptions } from "./plan.ts";
import type { FromWorker, ToWorker } from "./worker.ts";

/**
 * One JS thread tops out well below what the kernel can do with many short
 * connections; large target lists are split round-robin over threads, each
 * with its share of the concurrency: the main thread probes one share itself
 * and worker threads the others, posting their results back in batches.
 * Automatically that is one thread per core (at most 8). On 2 cores, 20,000
 * probes of one local nginx took 2.77-2.99 s over three threads (two workers
 * and a main thread that only received) against 2.98-3.13 s in one, for 25%
 * more CPU: the main thread copying every result out of the workers ate most
 * of the gain, so the main thread now probes too. Below these sizes a
 * worker's start-up costs more than it saves.
 */
export const SHARD_MIN_TARGETS = 2000;
export const SHARD_MIN_CONCURRENCY_PER_THREAD = 8;

/** How many threads to use: `--workers N` as asked (at most one per target), else one per core for large lists. */
export function shardCount(targets: number, concurrency: number, requested: number | "auto", cores = navigator.hardwareConcurrency): number {
  if (requested !== "auto") return Math.max(1, Math.min(requested, targets, concurrency));
  if (targets < SHARD_MIN_TARGETS) return 1;
  return Math.max(1, Math.min(cores, 8, Math.floor(concurrency / SHARD_MIN_CONCURRENCY_PER_THREAD)));
}

/**
 * In a standalone executable the worker is an embedded entry point, named
 * relative to the bundle's root (src/cli); from source it sits beside this file.
 */
function workerUrl(): string {
  return import.meta.url.includes("$bunfs") ? "./probe/worker.ts" : new URL("./worker.ts", import.meta.url).href;
}

/** Each thread's share of the concurrency: as even as it goes, at least one. */
function concurrencyShare(concurrency: number, threads: number, i: number): number {
  return Math.max(1, Math.floor(concurrency / threads) + (i < concurrency % threads ? 1 : 0));
}

/**
 * Runs the targets on `threads` threads: share 0 (every threads-th target,
 * from the first) here through `probeHere`, the others on worker threads,
 * which plan their share again. Results go to onResult as they arrive.
 */
export async function runSharded(
  entries: TargetEntry[],
  options: ProbeOptions,
  threads: number,
  probeHere: (share: (index: number) => boolean, concurrency: number) => Promise<void>,
  onResult: (result: ProbeResult) => void,
  signal: AbortSignal,
): Promise<void> {
  const shares: TargetEntry[][] = Array.from({ length: threads }, () => []);
  entries.forEach((entry, i) => shares[i % threads]!.push(entry));
  const workers = shares.slice(1).map(() => new Worker(workerUrl()));
  const onAbort = () => {
    for (const worker of workers) worker.postMessage({ type: "abort" } satisfies ToWorker);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const remote = workers.map(
      (worker, i) =>
        new Promise<void>((resolve, reject) => {
          worker.onmessage = (event: MessageEvent<FromWorker>) => {
            const message = event.data;
            if (message.type === "results") for (const result of message.results) onResult(result);
            else if (message.type === "done") resolve();
            else reject(new OpsError({ code: "E_PROBE_WORKER", message: `probe worker failed: ${message.message}`, exitCode: ExitCode.internal }));
          };
          worker.onerror = (event) => reject(new OpsError({ code: "E_PROBE_WORKER", message: `probe worker failed: ${event.message}`, exitCode: ExitCode.internal }));
          worker.postMessage({ type: "start", entries: shares[i + 1]!, options, concurrency: concurrencyShare(options.concurrency, threads, i + 1) } satisfies ToWorker);
        }),
    );
    await Promise.all([probeHere((index) => index % threads === 0, concurrencyShare(options.concurrency, threads, 0)), ...remote]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    for (const worker of workers) worker.terminate();
  }
}
