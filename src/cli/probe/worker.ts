// A probe worker thread: plans its share of the targets and runs them through
// its own bounded pool, posting results back in batches. Large target lists
// are split over one thread per core, the main thread's among them (see shard.ts).
import { runPool } from "../../engine/index.ts";
import { runProbe, type ProbeResult, type TargetEntry } from "../../probe/index.ts";
import { planEntries, type ProbeOptions } from "./plan.ts";

declare const self: Worker;

export type ToWorker = { type: "start"; entries: TargetEntry[]; options: ProbeOptions; concurrency: number } | { type: "abort" };
export type FromWorker = { type: "results"; results: ProbeResult[] } | { type: "done" } | { type: "failed"; message: string };

const controller = new AbortController();
const FLUSH_MS = 20;
const FLUSH_COUNT = 256;

async function start(message: Extract<ToWorker, { type: "start" }>): Promise<void> {
  const planned = await planEntries(message.entries, message.options);
  let batch: ProbeResult[] = [];
  let timer: Timer | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return;
    self.postMessage({ type: "results", results: batch } satisfies FromWorker);
    batch = [];
  };
  for await (const outcome of runPool(planned, (p, signal) => runProbe(p.plan, p.settings, signal), { concurrency: message.concurrency, signal: controller.signal })) {
    if ("error" in outcome) throw outcome.error;
    batch.push(outcome.value);
    if (batch.length >= FLUSH_COUNT) flush();
    else timer ??= setTimeout(flush, FLUSH_MS);
  }
  flush();
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "abort") {
    controller.abort();
    return;
  }
  start(message).then(
    () => self.postMessage({ type: "done" } satisfies FromWorker),
    (error: unknown) => self.postMessage({ type: "failed", message: error instanceof Error ? error.message : String(error) } satisfies FromWorker),
  );
};
