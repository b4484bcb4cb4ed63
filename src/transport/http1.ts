import type { Connection, Framer } from "./connect.ts";
import { PhaseClock, PhaseError } from "./phase.ts";

/**
 * A minimal HTTP/1.1 exchange over a connection opened by openConnection:
 * one request, `Connection: close`, response framed to its end. Written
 * for probing rather than general use: it keeps phase timings exact and caps
 * how much of the body it keeps.
 *
 * Our own code rather than a library's on purpose: fetch (Bun's or undici's)
 * and node:http report no time for DNS, connect, TLS and first byte apart,
 * which are what a probe is for; with it `opskit probe` makes 16,000-19,700
 * probes/s from one process, 5.2-5.8x blackbox_exporter's on the same machine
 * in the same run (bench/RESULTS.md, benchmark 2). The PromQL probe uses it too, for the same
 * timings; HTTP that needs none (Kubernetes, etcd, webhooks) goes through fetch.
 */
export interface HttpRequest {
  method: string;
  /** Origin-form target: path and query. */
  path: string;
  /** Host header value (host[:port]). */
  host: string;
  headers: Record<string, string>;
  body?: string;
  maxBodyBytes: number;
}

export interface HttpResponse {
  httpVersion: string;
  status: number;
  reason: string;
  /** The header fields as received (see headerValue, headerRecord). */
  fields: HeaderFields;
  body: Buffer;
  /** Bytes received in the body, including any past maxBodyBytes. */
  bodyBytes: number;
  truncated: boolean;
}

// Byte arrays, not Buffer.from("\r\n"): its first call costs a probe's startup 0.2 ms.
const CRLF = new Uint8Array([13, 10]);
const CRLF2 = new Uint8Array([13, 10, 13, 10]);
const EMPTY = Buffer.alloc(0);
const MAX_HEAD_BYTES = 64 * 1024;

export function serializeRequest(request: HttpRequest): string {
  let head = `${request.method} ${request.path} HTTP/1.1\r\nHost: ${request.host}\r\n`;
  // Without headers of its own (most probes), the defaults alone, with no object built.
  let custom = false;
  for (const _ in request.headers) {
    custom = true;
    break;
  }
  if (!custom) head += "user-agent: opskit\r\naccept: */*\r\n";
  else {
    const headers = { "user-agent": "opskit", accept: "*/*", ...lowerKeys(request.headers) };
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  }
  if (request.body !== undefined) head += `content-length: ${Buffer.byteLength(request.body)}\r\n`;
  head += "connection: close\r\n\r\n";
  return request.body === undefined ? head : head + request.body;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

/**
 * Frames one HTTP/1.1 response from a connection's chunks as they arrive,
 * called from the socket's data handler (Connection.frame): no promise or
 * copy per chunk. The first chunk ends the firstByte phase; the framed end
 * of the response ends transfer.
 */
export class ResponseParser implements Framer<HttpResponse> {
  /** Bytes received and not consumed yet: buffer[offset..]. */
  private buffer: Buffer = EMPTY;
  private offset = 0;
  private started = false;
  private head: Head | undefined;
  private readonly body: BodySink;
  private framing: "none" | "length" | "chunked" | "close" = "none";
  /** content-length: the bytes announced; chunked: what is left of the current chunk, -1 before its size line. */
  private expected = 0;

  constructor(
    private readonly request: HttpRequest,
    private readonly clock: PhaseClock,
  ) {
    this.body = new BodySink(request.maxBodyBytes);
  }

  push(chunk: Uint8Array): HttpResponse | undefined {
    if (!this.started) {
      this.started = true;
      this.clock.finish();
      this.clock.enter("transfer");
    }
    // Bun hands sockets' chunks over as Buffers; reading .buffer of one would cost more than the parse.
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.buffer = this.offset === this.buffer.length ? bytes : Buffer.concat([this.buffer.subarray(this.offset), bytes]);
    this.offset = 0;
    return this.advance(false);
  }

  end(): HttpResponse {
    if (!this.started) throw new PhaseError("firstByte", "E_EMPTY_REPLY", "server closed the connection without a response");
    return this.advance(true)!;
  }

  private get available(): number {
    return this.buffer.length - this.offset;
  }

  private take(length: number): Buffer {
    const out = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** Consumes what the buffer holds; the response once complete, undefined while more must come. At eof, never undefined. */
  private advance(eof: boolean): HttpResponse | undefined {
    while (!this.head) {
      const end = this.buffer.indexOf(CRLF2, this.offset);
      if (end < 0) {
        if (eof) throw new PhaseError("transfer", "E_HTTP_PARSE", "connection closed inside the response headers");
        if (this.available > MAX_HEAD_BYTES) throw new PhaseError("transfer", "E_HTTP_PARSE", `response headers exceed ${MAX_HEAD_BYTES} bytes`);
        return undefined;
      }
      const head = parseHead(this.buffer.toString("latin1", this.offset, end));
      this.offset = end + 4;
      // Interim responses (100 Continue, 103 Early Hints) precede the real one; 101 is final.
      if (head.status < 100 || head.status >= 200 || head.status === 101) this.startBody(head);
    }
    switch (this.framing) {
      case "none":
        return this.finish();
      case "length":
        this.body.add(this.take(Math.min(this.expected - this.body.bytes, this.available)));
        if (this.body.bytes >= this.expected) return this.finish();
        if (eof) throw new PhaseError("transfer", "E_HTTP_TRUNCATED", `body ended after ${this.body.bytes} of ${this.expected} bytes`);
        return undefined;
      case "close":
        this.body.add(this.take(this.available));
        return eof ? this.finish() : undefined;
      case "chunked":
        return this.advanceChunked(eof);
    }
  }

  private startBody(head: Head): void {
    this.head = head;
    const noBody = this.request.method === "HEAD" || head.status === 204 || head.status === 304;
    const length = headerValue(head.fields, "content-length");
    if (noBody) this.framing = "none";
    else if (/\bchunked\b/i.test(headerValue(head.fields, "transfer-encoding") ?? "")) {
      this.framing = "chunked";
      this.expected = -1;
    } else if (length !== undefined) {
      const expected = Number(length);
      if (!Number.isSafeInteger(expected) || expected < 0) throw new PhaseError("transfer", "E_HTTP_PARSE", `bad content-length "${length}"`);
      this.framing = "length";
      this.expected = expected;
    } else this.framing = "close";
  }

  private advanceChunked(eof: boolean): HttpResponse | undefined {
    const early = () => (eof ? new PhaseError("transfer", "E_HTTP_TRUNCATED", "chunked body ended early") : undefined);
    while (true) {
      if (this.expected < 0) {
        const lineEnd = this.buffer.indexOf(CRLF, this.offset);
        if (lineEnd < 0) {
          const error = early();
          if (error) throw error;
          return undefined;
        }
        const size = parseInt(this.buffer.toString("latin1", this.offset, lineEnd), 16);
        this.offset = lineEnd + 2;
        if (Number.isNaN(size)) throw new PhaseError("transfer", "E_HTTP_PARSE", "bad chunk size in chunked body");
        if (size === 0) return this.finish(); // trailers are ignored; the connection closes after this response
        this.expected = size;
      }
      if (this.expected > 0) {
        const piece = this.take(Math.min(this.expected, this.available));
        this.body.add(piece);
        this.expected -= piece.length;
        if (this.expected > 0) {
          const error = early();
          if (error) throw error;
          return undefined;
        }
      }
      // The CRLF after the chunk's data.
      if (this.available < 2) {
        const error = early();
        if (error) throw error;
        return undefined;
      }
      this.offset += 2;
      this.expected = -1;
    }
  }

  private finish(): HttpResponse {
    this.clock.finish();
    const { head, body } = this;
    const { parts } = body;
    return {
      httpVersion: head!.httpVersion,
      status: head!.status,
      reason: head!.reason,
      fields: head!.fields,
      // A body in one piece is a view of the chunk it came in; copying it would change nothing.
      body: parts.length === 1 ? parts[0]! : Buffer.concat(parts),
      bodyBytes: body.bytes,
      truncated: body.bytes > body.kept,
    };
  }
}

/** Sends the request and frames the response; the connection is the caller's to close. */
export function exchange(conn: Connection, request: HttpRequest, clock: PhaseClock): Promise<HttpResponse> {
  clock.enter("firstByte");
  conn.write(serializeRequest(request));
  return conn.frame(new ResponseParser(request, clock));
}

interface Head {
  httpVersion: string;
  status: number;
  reason: string;
  fields: HeaderFields;
}

/**
 * Header fields in the order received: lower-case name, value, name, value...
 * Kept as they came rather than as a record: building a record of a
 * response's headers costs more than the rest of its parse, and a probe
 * whose headers nobody reads should not pay it (headerRecord builds it).
 */
export type HeaderFields = readonly string[];

/** A header's value; a repeated header's values joined with ", ", as a record holds it. */
export function headerValue(fields: HeaderFields, name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === name) value = value === undefined ? fields[i + 1]! : `${value}, ${fields[i + 1]}`;
  }
  return value;
}

/** The headers as a record of lower-case names, repeated headers' values joined with ", ". */
export function headerRecord(fields: HeaderFields): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const seen = headers[name];
    headers[name] = seen === undefined ? fields[i + 1]! : `${seen}, ${fields[i + 1]}`;
  }
  return headers;
}

function parseHead(text: string): Head {
  const firstEnd = text.indexOf("\r\n");
  const first = firstEnd < 0 ? text : text.slice(0, firstEnd);
  const statusLine = readStatusLine(first);
  if (!statusLine) {
    throw new PhaseError("transfer", "E_HTTP_PARSE", `not an HTTP response: ${JSON.stringify(first.slice(0, 60))}`, {
      hint: "check that the port serves HTTP (an https:// URL for TLS)",
    });
  }
  const fields: string[] = [];
  let start = firstEnd < 0 ? text.length : firstEnd + 2;
  while (start < text.length) {
    let end = text.indexOf("\r\n", start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(":", start);
    if (colon > start && colon < end) {
      fields.push(text.slice(start, colon).trim().toLowerCase(), text.slice(colon + 1, end).trim());
    }
    start = end + 2;
  }
  return { httpVersion: statusLine.version, status: Number(statusLine.status), reason: statusLine.reason, fields };
}

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

/**
 * A status line as /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/ reads it (the reason
 * holds no line terminator, as `.` matches none). A scan, not the pattern:
 * compiling it costs `opskit probe URL` more than the scan.
 */
function readStatusLine(line: string): { version: string; status: string; reason: string } | undefined {
  if (!line.startsWith("HTTP/") || !isDigit(line[5]) || line[6] !== "." || !isDigit(line[7]) || line[8] !== " ") return undefined;
  if (!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11])) return undefined;
  if (line.length === 12) return { version: line.slice(5, 8), status: line.slice(9, 12), reason: "" };
  if (line[12] !== " ") return undefined;
  const reason = line.slice(13);
  if (reason.includes("\n") || reason.includes("\r") || reason.includes("\u2028") || reason.includes("\u2029")) return undefined;
  return { version: line.slice(5, 8), status: line.slice(9, 12), reason };
}

class BodySink {
  parts: Buffer[] = [];
  kept = 0;
  bytes = 0;
  constructor(private readonly max: number) {}
  add(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.kept >= this.max) return;
    const slice = chunk.length + this.kept > this.max ? chunk.subarray(0, this.max - this.kept) : chunk;
    this.parts.push(slice);
    this.kept += slice.length;
  }
}
