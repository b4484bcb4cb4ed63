/**
 * A bounded, abortable pool: at most `concurrency` items are in flight, results
 * stream out in completion order, and once `signal` aborts no new item starts
 * while in-flight work receives the same signal and is awaited.
 */
export interface PoolOptions {
  concurrency: number;
  signal?: AbortSignal;
}

export type PoolOutcome<T, R> = { item: T; index: number; value: R } | { item: T; index: number; error: unknown };

import { Slots } from "./slots.ts";

export async function* runPool<T, R>(
  items: Iterable<T>,
  work: (item: T, signal: AbortSignal, index: number) => Promise<R>,
  options: PoolOptions,
): AsyncGenerator<PoolOutcome<T, R>> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new RangeError(`pool concurrency must be a positive integer, got ${options.concurrency}`);
  }
  const controller = new AbortController();
  const outer = options.signal;
  const onAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener("abort", onAbort, { once: true });

  const iterator = items[Symbol.iterator]();
  const done: PoolOutcome<T, R>[] = [];
  let wake: (() => void) | undefined;
  // Items in flight hold a slot each: the bound is the semaphore's, not a second count.
  const slots = new Slots(options.concurrency);
  let exhausted = false;
  let next = 0;

  const settle = (outcome: PoolOutcome<T, R>) => {
    slots.release();
    done.push(outcome);
    wake?.();
  };

  const fill = () => {
    while (!exhausted && !controller.signal.aborted && slots.tryAcquire()) {
      const step = iterator.next();
      if (step.done) {
        slots.release();
        exhausted = true;
        break;
      }
      const item = step.value;
      const index = next++;
      let started: Promise<R>;
      try {
        started = work(item, controller.signal, index);
      } catch (error) {
        started = Promise.reject(error);
      }
      started.then(
        (value) => settle({ item, index, value }),
        (error: unknown) => settle({ item, index, error }),
      );
    }
  };

  try {
    fill();
    while (slots.inUse > 0 || done.length > 0) {
      if (done.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      // Drain in a batch: yielding per item while refilling keeps the pool full.
      while (done.length > 0) {
        const outcome = done.shift()!;
        fill();
        yield outcome;
      }
      fill();
    }
  } finally {
    // Consumer stopped early (break/throw): cancel what is still running.
    if (slots.inUse > 0) controller.abort(new Error("pool closed"));
    outer?.removeEventListener("abort", onAbort);
  }
}
