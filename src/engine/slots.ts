/**
 * The one concurrency primitive: a counting semaphore. runPool (pool.ts)
 * admits a batch's items through it (tryAcquire while the batch has items,
 * release as each settles); work that arrives one item at a time over hours
 * (remediations, a check's probe on its timer) waits for a slot with
 * `acquire`, abortably. One bound, counted in one place, whatever the shape
 * of the work.
 */
export class Slots {
  #free: number;
  #waiting: { resolve(): void; reject(error: unknown): void }[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slots must be a positive integer, got ${size}`);
    this.#free = size;
  }

  get inUse(): number {
    return this.size - this.#free;
  }

  tryAcquire(): boolean {
    if (this.#free === 0) return false;
    this.#free--;
    return true;
  }

  /** Waits for a slot; rejects if `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = () => {
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next.resolve();
    else this.#free++;
  }
}
