// One server-sent-events client: a response body whose backlog is bounded.
// The body is pulled by the connection as the client reads; what the server
// has to say meanwhile waits in a queue of at most maxBytes, and a client so
// slow that the queue fills is cut off (its stream closes, the queue goes):
// a stalled browser tab never makes the server hold more.

const encoder = new TextEncoder();

/** One event as the stream carries it: `event:` and one `data:` line of JSON (which never holds a raw newline). */
export function sseFrame(event: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export interface SseLimits {
  /** Bytes waiting for the client at most; past it the client is cut off. */
  maxBytes: number;
}

export class SseClient {
  readonly stream: ReadableStream<Uint8Array>;
  #queue: Uint8Array[] = [];
  #bytes = 0;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Set while the connection waits for the next bytes. */
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(
    private readonly limits: SseLimits,
    /** Called once when the stream ends, however it ends: the client left, it was cut off, or the server closed it. */
    private readonly ended: (client: SseClient, why: "left" | "slow" | "closed") => void,
    first?: Uint8Array,
  ) {
    if (first) this.#enqueue(first);
    // highWaterMark 0: nothing is buffered in the stream itself; the queue here is the only backlog, and it is counted.
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: (controller) => {
          if (this.#closed) return;
          if (this.#queue.length > 0) return this.#flush(controller);
          return new Promise<void>((resolve) => {
            this.#wake = () => {
              this.#wake = undefined;
              if (!this.#closed && this.#queue.length > 0) this.#flush(controller);
              resolve();
            };
          });
        },
        cancel: () => this.#end("left"),
      },
      { highWaterMark: 0 },
    );
  }

  /** Bytes waiting for the client. */
  get backlog(): number {
    return this.#bytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a frame; false when the client is gone or was cut off by it. */
  send(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#bytes + frame.byteLength > this.limits.maxBytes) {
      this.#end("slow");
      return false;
    }
    this.#enqueue(frame);
    this.#wake?.();
    return true;
  }

  /** Ends the stream (the server stops). */
  close(): void {
    this.#end("closed");
  }

  #enqueue(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.#bytes += frame.byteLength;
  }

  #flush(controller: ReadableStreamDefaultController<Uint8Array>): void {
    const chunk = this.#queue.length === 1 ? this.#queue[0]! : Buffer.concat(this.#queue);
    this.#queue = [];
    this.#bytes = 0;
    controller.enqueue(chunk);
  }

  #end(why: "left" | "slow" | "closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#bytes = 0;
    if (why !== "left") {
      try {
        this.#controller.close();
      } catch {
        // Already closed or errored by the connection.
      }
    }
    this.#wake?.();
    this.ended(this, why);
  }
}
