import type { AgentEvent } from "./types.ts";

/**
 * The bounded queue between the sources and the rules: a ring of `capacity`
 * slots. A push into a full queue is refused (the source keeps the event and
 * waits for drained()), so memory stays bounded and nothing is dropped.
 * drained() resolves once the queue is back under half full, so a paused
 * source resumes with room for a burst rather than one event at a time.
 */
export class EventQueue {
  readonly #slots: (AgentEvent | undefined)[];
  #head = 0;
  #length = 0;
  #waiters: (() => void)[] = [];

  constructor(readonly capacity: number) {
    this.#slots = new Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  get full(): boolean {
    return this.#length >= this.capacity;
  }

  /** false when full: the event was not taken. */
  push(event: AgentEvent): boolean {
    if (this.#length >= this.capacity) return false;
    this.#slots[(this.#head + this.#length) % this.capacity] = event;
    this.#length++;
    return true;
  }

  shift(): AgentEvent | undefined {
    if (this.#length === 0) return undefined;
    const event = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#length--;
    if (this.#waiters.length > 0 && this.#length <= this.capacity / 2) this.#wake();
    return event;
  }

  /** Resolves when the queue has room again (at once if it is under half full). */
  drained(): Promise<void> {
    if (this.#length <= this.capacity / 2) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Lets every waiter go (the agent is stopping: a source blocked on a full queue must see its signal). */
  release(): void {
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
