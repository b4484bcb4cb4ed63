import type { ExecResult } from "./types.ts";

/**
 * Collects one output stream of a remote command: the last `maxBytes` bytes
 * (the end of the output is what explains a failure), and live text for a
 * callback, decoded as UTF-8 across chunk boundaries.
 */
export class StreamCapture {
  private chunks: Uint8Array[] = [];
  private kept = 0;
  private dropped = false;
  private readonly live: TextDecoder | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly onText?: (chunk: string) => void,
  ) {
    if (onText) this.live = new TextDecoder("utf-8");
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.onText && this.live) {
      const text = this.live.decode(chunk, { stream: true });
      if (text) this.onText(text);
    }
    this.chunks.push(chunk);
    this.kept += chunk.length;
    // Whole chunks that lie entirely before the tail are dropped as we go, so
    // a chatty command costs at most maxBytes plus one chunk of memory.
    while (this.chunks.length > 0 && this.kept - this.chunks[0]!.length >= this.maxBytes) {
      this.kept -= this.chunks.shift()!.length;
      this.dropped = true;
    }
  }

  get truncated(): boolean {
    return this.dropped || this.kept > this.maxBytes;
  }

  finish(): string {
    if (this.onText && this.live) {
      const rest = this.live.decode();
      if (rest) this.onText(rest);
    }
    let bytes = Buffer.concat(this.chunks);
    if (bytes.length > this.maxBytes) {
      this.dropped = true;
      bytes = bytes.subarray(bytes.length - this.maxBytes);
    }
    if (this.dropped) {
      // The cut may fall inside a UTF-8 sequence: skip its continuation bytes.
      let start = 0;
      while (start < bytes.length && start < 3 && (bytes[start]! & 0xc0) === 0x80) start += 1;
      bytes = bytes.subarray(start);
    }
    return new TextDecoder("utf-8").decode(bytes);
  }
}

/** A command's result from its captured streams: its exit (null when it was stopped) and the output kept. */
export function commandOutput(stdout: StreamCapture, stderr: StreamCapture, exit: { code: number | null; signal: string | null }, startedAt: number): ExecResult {
  return {
    exitCode: exit.code,
    signal: exit.signal,
    stdout: stdout.finish(),
    stderr: stderr.finish(),
    truncated: stdout.truncated || stderr.truncated,
    durationMs: performance.now() - startedAt,
  };
}
