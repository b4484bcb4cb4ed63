import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { headerRecord, headerValue, ResponseParser, type HttpResponse } from "./http1.ts";
import { PhaseClock, PhaseError } from "./phase.ts";

/** Feeds the chunks to a parser as a socket would, then the end of the stream if the response was not complete before. */
function frame(chunks: Buffer[], options: { method?: string; maxBodyBytes?: number } = {}): { response?: HttpResponse; error?: PhaseError; clock: PhaseClock } {
  const clock = new PhaseClock();
  clock.enter("firstByte");
  const parser = new ResponseParser({ method: options.method ?? "GET", path: "/", host: "h", headers: {}, maxBodyBytes: options.maxBodyBytes ?? 1 << 20 }, clock);
  try {
    for (const chunk of chunks) {
      const response = parser.push(chunk);
      if (response) return { response, clock };
    }
    return { response: parser.end(), clock };
  } catch (error) {
    if (!(error instanceof PhaseError)) throw error;
    return { error, clock };
  }
}

/** Cuts bytes at the given offsets. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  return [0, ...points].map((start, i) => bytes.subarray(start, points[i] ?? bytes.length)).filter((piece) => piece.length > 0);
}

const bytes = (text: string) => Buffer.from(text, "latin1");

// A response as a server might frame it, with the body it carries: the oracle.
const body = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
const framed = fc.oneof(
  body.map((b) => ({ body: b, wire: Buffer.concat([bytes(`HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\nX-Twice: a\r\nx-twice: b\r\n\r\n`), b]) })),
  fc.tuple(fc.array(body, { maxLength: 5 }), fc.boolean()).map(([parts, interim]) => ({
    body: Buffer.concat(parts),
    wire: Buffer.concat([
      bytes(`${interim ? "HTTP/1.1 100 Continue\r\n\r\n" : ""}HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Twice: a\r\nx-twice: b\r\n\r\n`),
      ...parts.filter((p) => p.length > 0).flatMap((p) => [bytes(`${p.length.toString(16)}\r\n`), p, bytes("\r\n")]),
      bytes("0\r\n\r\n"),
    ]),
  })),
  body.map((b) => ({ body: b, wire: Buffer.concat([bytes("HTTP/1.0 200 OK\r\nX-Twice: a\r\nx-twice: b\r\n\r\n"), b]) })),
);

describe("HTTP/1.1 response framing", () => {
  test("a response frames to the body it carries, however the stream is cut into chunks and whatever the cap", () => {
    fc.assert(
      fc.property(framed, fc.array(fc.nat(), { maxLength: 8 }), fc.nat({ max: 400 }), ({ body, wire }, offsets, max) => {
        const { response, error } = frame(cut(wire, offsets), { maxBodyBytes: max });
        expect(error).toBeUndefined();
        expect(response!.status).toBe(200);
        expect(headerValue(response!.fields, "x-twice")).toBe("a, b");
        expect(headerRecord(response!.fields)).toEqual({ "x-twice": "a, b", ...(headerValue(response!.fields, "content-length") ? { "content-length": String(body.length) } : {}), ...(headerValue(response!.fields, "transfer-encoding") ? { "transfer-encoding": "chunked" } : {}) });
        expect(response!.bodyBytes).toBe(body.length);
        expect(response!.truncated).toBe(body.length > max);
        expect(Buffer.compare(response!.body, body.subarray(0, max))).toBe(0);
      }),
    );
  });

  test("a response complete before the connection ends is returned without waiting for the end, bytes after it ignored", () => {
    const { response, clock } = frame([bytes("HTTP/1.1 204 No Content\r\nServer: x\r\n\r\ntrailing junk")]);
    expect(response).toMatchObject({ httpVersion: "1.1", status: 204, reason: "No Content", fields: ["server", "x"], bodyBytes: 0, truncated: false });
    expect(Object.keys(clock.timings)).toEqual(["firstByte", "transfer"]);
    expect(frame([bytes("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n")], { method: "HEAD" }).response?.bodyBytes).toBe(0);
  });

  test("malformed and cut-short responses fail with the phase, code and message of each case", () => {
    const failure = (chunks: string[]) => {
      const { error } = frame(chunks.map(bytes));
      return error && { phase: error.phase, code: error.code, message: error.message };
    };
    expect(failure([])).toEqual({ phase: "firstByte", code: "E_EMPTY_REPLY", message: "server closed the connection without a response" });
    expect(failure(["HTTP/1.1 200 OK\r\nServer: x\r\n"])).toEqual({ phase: "transfer", code: "E_HTTP_PARSE", message: "connection closed inside the response headers" });
    expect(failure(["HTTP/1.1 200 OK\r\n", "x".repeat(70_000)])).toEqual({ phase: "transfer", code: "E_HTTP_PARSE", message: "response headers exceed 65536 bytes" });
    expect(failure(["SSH-2.0-OpenSSH\r\n\r\n"])).toEqual({ phase: "transfer", code: "E_HTTP_PARSE", message: 'not an HTTP response: "SSH-2.0-OpenSSH"' });
    expect(failure(["HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n"])).toEqual({ phase: "transfer", code: "E_HTTP_PARSE", message: 'bad content-length "-1"' });
    expect(failure(["HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab"])).toEqual({ phase: "transfer", code: "E_HTTP_TRUNCATED", message: "body ended after 2 of 5 bytes" });
    expect(failure(["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab"])).toEqual({ phase: "transfer", code: "E_HTTP_TRUNCATED", message: "chunked body ended early" });
    expect(failure(["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"])).toEqual({ phase: "transfer", code: "E_HTTP_PARSE", message: "bad chunk size in chunked body" });
  });
});
