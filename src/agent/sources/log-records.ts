/*
 * Bytes of a log file into records: lines split on \n (a trailing \r
 * dropped), a line still without its \n kept back until it is completed, and
 * with a multi-line start pattern, lines that do not match it joined to the
 * record before them. Every record carries the byte offsets it spans, so the
 * reader can resume at the first byte nothing has been emitted for.
 */

export interface LogRecord {
  /** The record's text (lines joined with \n), decoded as UTF-8 (invalid bytes become U+FFFD). */
  message: string;
  /** Offset of the record's first byte in the file. */
  offset: number;
  /** Offset just past the record's last \n. */
  end: number;
  /** Part of the record was dropped because it passed maxBytes. */
  truncated: boolean;
}

export interface RecordOptions {
  /** Bound on one record (a line, or a multi-line record, in bytes); what passes it is dropped and the record marked truncated. */
  maxBytes: number;
  /** A line matching this starts a record; any other line continues the record before it. */
  start?: RegExp;
}

const NEWLINE = 10;
const CR = 13;

interface Pending {
  parts: string[];
  bytes: number;
  offset: number;
  end: number;
  truncated: boolean;
}

export class RecordAssembler {
  /** The current line's bytes so far (it has no \n yet), at most maxBytes of them. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The current line passed maxBytes: what follows up to its \n is dropped. */
  private overlong = false;
  /** File offset of the current line's first byte. */
  private lineStart: number;
  /** File offset of the next byte pushed. */
  private position: number;
  /** A multi-line record that more lines may still continue. */
  private pending: Pending | undefined;

  constructor(
    private readonly options: RecordOptions,
    offset: number,
  ) {
    this.lineStart = offset;
    this.position = offset;
  }

  /** Where reading must resume so that nothing not yet handed out is lost: the pending record's or the current line's first byte. */
  get resumeOffset(): number {
    return this.pending?.offset ?? this.lineStart;
  }

  /** Offset of the next byte to push. */
  get nextOffset(): number {
    return this.position;
  }

  get hasPending(): boolean {
    return this.pending !== undefined;
  }

  /** Bytes of the current line that wait for their \n. */
  get hasPartial(): boolean {
    return this.partialBytes > 0 || this.overlong;
  }

  /** Feeds the bytes that follow the last ones pushed; complete records are appended to `out`, in file order. */
  push(chunk: Buffer, out: LogRecord[]): void {
    let from = 0;
    while (from < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, from);
      if (newline < 0) {
        this.keep(chunk.subarray(from));
        this.position += chunk.length - from;
        return;
      }
      const end = this.position + (newline - from) + 1;
      let line: Buffer;
      if (this.partialBytes === 0 && !this.overlong) {
        line = chunk.subarray(from, Math.min(newline, from + this.options.maxBytes));
        if (newline - from > this.options.maxBytes) this.overlong = true;
      } else {
        this.keep(chunk.subarray(from, newline));
        line = this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial, this.partialBytes);
      }
      this.line(line, end, out);
      from = newline + 1;
    }
  }

  /** Hands out the pending multi-line record (idle long enough, or the file is done). */
  flushPending(out: LogRecord[]): void {
    if (!this.pending) return;
    const { parts, offset, end, truncated } = this.pending;
    this.pending = undefined;
    out.push({ message: parts.join("\n"), offset, end, truncated });
  }

  /** The file will not grow again (it was rotated away and closed, or truncated): its unfinished line is a record too. */
  flushAll(out: LogRecord[]): void {
    if (this.hasPartial) {
      const line = Buffer.concat(this.partial, this.partialBytes);
      this.line(line, this.position, out);
    }
    this.flushPending(out);
  }

  private keep(bytes: Buffer): void {
    if (this.overlong || bytes.length === 0) return;
    const room = this.options.maxBytes - this.partialBytes;
    if (bytes.length > room) {
      this.overlong = true;
      bytes = bytes.subarray(0, room);
    }
    // A copy: the reader's buffer may be reused, and a short tail must not hold a whole chunk alive.
    this.partial.push(Buffer.from(bytes));
    this.partialBytes += bytes.length;
  }

  /** A complete line spanning [lineStart, end). */
  private line(bytes: Buffer, end: number, out: LogRecord[]): void {
    const offset = this.lineStart;
    const truncated = this.overlong;
    const text = (bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, -1) : bytes).toString("utf8");
    this.partial = [];
    this.partialBytes = 0;
    this.overlong = false;
    this.lineStart = end;
    this.position = end;
    const start = this.options.start;
    if (!start) {
      out.push({ message: text, offset, end, truncated });
      return;
    }
    const pending = this.pending;
    if (pending && !start.test(text)) {
      const bytes = Buffer.byteLength(text) + 1;
      if (pending.truncated || pending.bytes + bytes > this.options.maxBytes) pending.truncated = true;
      else {
        pending.parts.push(text);
        pending.bytes += bytes;
      }
      pending.truncated ||= truncated;
      pending.end = end;
      return;
    }
    this.flushPending(out);
    this.pending = { parts: [text], bytes: Buffer.byteLength(text), offset, end, truncated };
  }
}
