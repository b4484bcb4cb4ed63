// Server-sent events read with fetch(), because EventSource cannot send the
// Authorization header. Reconnects with backoff; a 401 stops it until the
// token changes (the caller opens a new stream then).
import { authHeaders } from "./api.ts";

export interface StreamMessage {
  event: string;
  data: string;
  id?: string;
}

export type StreamState = "connecting" | "open" | "retrying" | "unauthorized";

export interface StreamHandlers {
  onMessage(message: StreamMessage): void;
  onState?(state: StreamState, detail?: string): void;
}

const CONNECT_TIMEOUT_MS = 15_000;
/** No byte for this long (the server sends keep-alive comments far more often): the connection is dead, open another. */
const IDLE_TIMEOUT_MS = 75_000;
const MAX_BACKOFF_MS = 30_000;
/** A line longer than this is not an event the dashboard can use; the stream is reopened. */
const MAX_LINE_CHARS = 4 * 1024 * 1024;

/** Parses an event stream incrementally (https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream). */
export class EventStreamParser {
  private buffer = "";
  private afterCR = false;
  private event = "";
  private data: string[] = [];
  private id: string | undefined;
  lastEventId: string | undefined;

  constructor(private readonly emit: (message: StreamMessage) => void) {}

  push(text: string): void {
    const buffer = this.buffer + text;
    let start = 0;
    // The last chunk ended with \r: a \n starting this one is the rest of that line end.
    if (this.afterCR && buffer.startsWith("\n")) start = 1;
    this.afterCR = false;
    for (;;) {
      const nl = buffer.indexOf("\n", start);
      const cr = buffer.indexOf("\r", start);
      const end = nl < 0 ? cr : cr < 0 ? nl : Math.min(nl, cr);
      if (end < 0) break;
      const line = buffer.slice(start, end);
      if (buffer[end] === "\r" && end + 1 === buffer.length) {
        start = end + 1;
        this.afterCR = true;
      } else start = end + (buffer[end] === "\r" && buffer[end + 1] === "\n" ? 2 : 1);
      this.line(line);
    }
    this.buffer = buffer.slice(start);
    if (this.buffer.length > MAX_LINE_CHARS) throw new Error("event stream line too long");
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length > 0) {
        const message: StreamMessage = { event: this.event || "message", data: this.data.join("\n") };
        if (this.id !== undefined) message.id = this.id;
        this.emit(message);
      }
      this.event = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = this.lastEventId = value;
  }
}

/**
 * Reads `path` as an event stream until `signal` aborts, reconnecting after
 * failures with exponential backoff (1 s doubling to 30 s, with jitter).
 */
export function openEventStream(path: string, handlers: StreamHandlers, signal: AbortSignal): void {
  let backoffMs = 1_000;
  let lastEventId: string | undefined;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });

  const connectOnce = async (): Promise<"retry" | "stop"> => {
    const attempt = new AbortController();
    const stopAttempt = () => attempt.abort();
    signal.addEventListener("abort", stopAttempt, { once: true });
    let idle = setTimeout(stopAttempt, CONNECT_TIMEOUT_MS);
    try {
      handlers.onState?.("connecting");
      const response = await fetch(path, {
        headers: { ...authHeaders(), accept: "text/event-stream", ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
        signal: attempt.signal,
        credentials: "omit",
        cache: "no-store",
      });
      if (response.status === 401) {
        handlers.onState?.("unauthorized");
        return "stop";
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      handlers.onState?.("open");
      const parser = new EventStreamParser(handlers.onMessage);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        clearTimeout(idle);
        idle = setTimeout(stopAttempt, IDLE_TIMEOUT_MS);
        const { value, done } = await reader.read();
        if (done) break;
        backoffMs = 1_000;
        parser.push(value);
        lastEventId = parser.lastEventId ?? lastEventId;
      }
      return "retry";
    } catch (error) {
      if (signal.aborted) return "stop";
      handlers.onState?.("retrying", error instanceof Error ? error.message : String(error));
      return "retry";
    } finally {
      clearTimeout(idle);
      signal.removeEventListener("abort", stopAttempt);
      attempt.abort();
    }
  };

  void (async () => {
    while (!signal.aborted) {
      if ((await connectOnce()) === "stop") return;
      if (signal.aborted) return;
      handlers.onState?.("retrying");
      await wait(backoffMs * (0.75 + Math.random() * 0.5));
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  })();
}
