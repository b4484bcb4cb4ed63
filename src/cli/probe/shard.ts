import { ExitCode, OpsError } from "../../errors.ts";
import type { ProbeResult, TargetEntry } from "../../probe/index.ts";
import type { ProbeOptions } from "./plan.ts";
import type { FromWorker, ToWorker } from "./worker.ts";

/**
 * One JS thread tops out well below what the kernel can do with many short
 * connections; large target lists are split round-robin over worker
 * threads, each with its share of the concurrency. Automatically that is one
 * per core but one, left to the main thread and the system: on 2 cores,
 * where measured against endpoints on the same machine two threads only
 * competed with the endpoints for CPU (3.2 s against 2.8 s for 20,000
 * probes), it stays in one thread. Below these sizes a worker's start-up
 * costs more than it saves.
 */
export const SHARD_MIN_TARGETS = 2000;
export const SHARD_MIN_CONCURRENCY_PER_WORKER = 8;

/** How many threads to use: `--workers N` as asked (at most one per target), else one per core for large lists. */
export function shardCount(targets: number, concurrency: number, requested: number | "auto", cores = navigator.hardwareConcurrency): number {
  if (requested !== "auto") return Math.max(1, Math.min(requested, targets, concurrency));
  if (targets < SHARD_MIN_TARGETS || cores < 3) return 1;
  return Math.max(1, Math.min(cores - 1, 8, Math.floor(concurrency / SHARD_MIN_CONCURRENCY_PER_WORKER)));
}

/**
 * In a standalone executable the worker is an embedded entry point, named
 * relative to the bundle's root (src/cli); from source it sits beside this file.
 */
function workerUrl(): string {
  return import.meta.url.includes("$bunfs") ? "./probe/worker.ts" : new URL("./worker.ts", import.meta.url).href;
}

/** Runs entries on `workers` threads; results stream to onResult as batches arrive. */
export async function runSharded(
  entries: TargetEntry[],
  options: ProbeOptions,
  workers: number,
  concurrency: number,
  onResult: (result: ProbeResult) => Promise<void> | void,
  signal: AbortSignal,
): Promise<void> {
  const shares: TargetEntry[][] = Array.from({ length: workers }, () => []);
  entries.forEach((entry, i) => shares[i % workers]!.push(entry));
  const threads = shares.map(() => new Worker(workerUrl()));
  const onAbort = () => {
    for (const thread of threads) thread.postMessage({ type: "abort" } satisfies ToWorker);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  // Results are handed on in arrival order; a sink may be async (JUnit is not, but keep the order anyway).
  let delivery = Promise.resolve();
  try {
    await Promise.all(
      threads.map(
        (thread, i) =>
          new Promise<void>((resolve, reject) => {
            thread.onmessage = (event: MessageEvent<FromWorker>) => {
              const message = event.data;
              if (message.type === "results") {
                delivery = delivery.then(async () => {
                  for (const result of message.results) await onResult(result);
                });
              } else if (message.type === "done") resolve();
              else reject(new OpsError({ code: "E_PROBE_WORKER", message: `probe worker failed: ${message.message}`, exitCode: ExitCode.internal }));
            };
            thread.onerror = (event) => reject(new OpsError({ code: "E_PROBE_WORKER", message: `probe worker failed: ${event.message}`, exitCode: ExitCode.internal }));
            const share = Math.max(1, Math.floor(concurrency / workers) + (i < concurrency % workers ? 1 : 0));
            thread.postMessage({ type: "start", entries: shares[i]!, options, concurrency: share } satisfies ToWorker);
          }),
      ),
    );
    await delivery;
  } finally {
    signal.removeEventListener("abort", onAbort);
    for (const thread of threads) thread.terminate();
  }
}
