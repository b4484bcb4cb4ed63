import type { Connection } from "./connect.ts";
import { PhaseClock, PhaseError } from "./phase.ts";

/**
 * A minimal HTTP/1.1 exchange over a connection opened by openConnection:
 * one request, `Connection: close`, response read to its framed end. Written
 * for probing rather than general use: it keeps phase timings exact and caps
 * how much of the body it keeps.
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
  headers: Record<string, string>;
  body: Buffer;
  /** Bytes received in the body, including any past maxBodyBytes. */
  bodyBytes: number;
  truncated: boolean;
}

const CRLF2 = Buffer.from("\r\n\r\n");
const MAX_HEAD_BYTES = 64 * 1024;

export function serializeRequest(request: HttpRequest): string {
  let head = `${request.method} ${request.path} HTTP/1.1\r\nHost: ${request.host}\r\n`;
  const headers = { "user-agent": "opskit", accept: "*/*", ...lowerKeys(request.headers) };
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (request.body !== undefined) head += `content-length: ${Buffer.byteLength(request.body)}\r\n`;
  head += "connection: close\r\n\r\n";
  return request.body === undefined ? head : head + request.body;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

class Reader {
  private buffer: Buffer = Buffer.alloc(0);
  eof = false;
  constructor(private readonly conn: Connection) {}

  get available(): Buffer {
    return this.buffer;
  }

  /** Reads more data; false at end of stream. */
  async fill(): Promise<boolean> {
    const chunk = await this.conn.read();
    if (chunk === null) {
      this.eof = true;
      return false;
    }
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.buffer, chunk]);
    return true;
  }

  take(length: number): Buffer {
    const out = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return out;
  }
}

export async function exchange(conn: Connection, request: HttpRequest, clock: PhaseClock): Promise<HttpResponse> {
  clock.enter("firstByte");
  conn.write(serializeRequest(request));
  const reader = new Reader(conn);
  if (!(await reader.fill())) {
    throw new PhaseError("firstByte", "E_EMPTY_REPLY", "server closed the connection without a response");
  }
  clock.finish();
  clock.enter("transfer");
  let head = await readHead(reader);
  while (head.status >= 100 && head.status < 200 && head.status !== 101) head = await readHead(reader);
  const response = await readBody(reader, head, request);
  clock.finish();
  return response;
}

interface Head {
  httpVersion: string;
  status: number;
  reason: string;
  headers: Record<string, string>;
}

async function readHead(reader: Reader): Promise<Head> {
  let end = reader.available.indexOf(CRLF2);
  while (end < 0) {
    if (reader.available.length > MAX_HEAD_BYTES) {
      throw new PhaseError("transfer", "E_HTTP_PARSE", `response headers exceed ${MAX_HEAD_BYTES} bytes`);
    }
    if (!(await reader.fill())) throw new PhaseError("transfer", "E_HTTP_PARSE", "connection closed inside the response headers");
    end = reader.available.indexOf(CRLF2);
  }
  const lines = reader.take(end + 4).toString("latin1", 0, end).split("\r\n");
  const statusLine = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
  if (!statusLine) {
    throw new PhaseError("transfer", "E_HTTP_PARSE", `not an HTTP response: ${JSON.stringify((lines[0] ?? "").slice(0, 60))}`, {
      hint: "check that the port serves HTTP (an https:// URL for TLS)",
    });
  }
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { httpVersion: statusLine[1]!, status: Number(statusLine[2]), reason: statusLine[3] ?? "", headers };
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

async function readBody(reader: Reader, head: Head, request: HttpRequest): Promise<HttpResponse> {
  const sink = new BodySink(request.maxBodyBytes);
  const noBody = request.method === "HEAD" || head.status === 204 || head.status === 304;
  const length = head.headers["content-length"];
  const chunked = /\bchunked\b/i.test(head.headers["transfer-encoding"] ?? "");
  if (noBody) {
    // nothing to read
  } else if (chunked) {
    await readChunked(reader, sink);
  } else if (length !== undefined) {
    const expected = Number(length);
    if (!Number.isSafeInteger(expected) || expected < 0) throw new PhaseError("transfer", "E_HTTP_PARSE", `bad content-length "${length}"`);
    while (sink.bytes < expected) {
      if (reader.available.length === 0 && !(await reader.fill())) {
        throw new PhaseError("transfer", "E_HTTP_TRUNCATED", `body ended after ${sink.bytes} of ${expected} bytes`);
      }
      sink.add(reader.take(Math.min(expected - sink.bytes, reader.available.length)));
    }
  } else {
    do sink.add(reader.take(reader.available.length));
    while (await reader.fill());
  }
  return {
    ...head,
    body: Buffer.concat(sink.parts),
    bodyBytes: sink.bytes,
    truncated: sink.bytes > sink.kept,
  };
}

async function readChunked(reader: Reader, sink: BodySink): Promise<void> {
  while (true) {
    let lineEnd = reader.available.indexOf("\r\n");
    while (lineEnd < 0) {
      if (!(await reader.fill())) throw new PhaseError("transfer", "E_HTTP_TRUNCATED", "chunked body ended early");
      lineEnd = reader.available.indexOf("\r\n");
    }
    const size = parseInt(reader.take(lineEnd + 2).toString("latin1", 0, lineEnd), 16);
    if (Number.isNaN(size)) throw new PhaseError("transfer", "E_HTTP_PARSE", "bad chunk size in chunked body");
    if (size === 0) return; // trailers are ignored; the connection closes after this response
    let remaining = size;
    while (remaining > 0) {
      if (reader.available.length === 0 && !(await reader.fill())) throw new PhaseError("transfer", "E_HTTP_TRUNCATED", "chunked body ended early");
      const piece = reader.take(Math.min(remaining, reader.available.length));
      sink.add(piece);
      remaining -= piece.length;
    }
    while (reader.available.length < 2) {
      if (!(await reader.fill())) throw new PhaseError("transfer", "E_HTTP_TRUNCATED", "chunked body ended early");
    }
    reader.take(2);
  }
}
