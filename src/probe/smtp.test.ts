import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { PhaseClock, PhaseError, type Connection } from "../transport/index.ts";
import { replyReader, type Reply } from "./smtp.ts";

/** A connection that hands out the given chunks, then reports the peer closed. */
function scriptedConnection(chunks: string[]): Connection {
  const queue = chunks.map((chunk) => Buffer.from(chunk, "latin1"));
  return { tls: undefined, write() {}, close() {}, read: async () => queue.shift() ?? null, frame: () => Promise.reject(new Error("SMTP reads replies line by line")) };
}

async function readAll(chunks: string[], count: number): Promise<Reply[]> {
  const next = replyReader(scriptedConnection(chunks), new PhaseClock());
  const replies: Reply[] = [];
  for (let i = 0; i < count; i++) replies.push(await next(`reply ${i + 1}`));
  return replies;
}

/** Cuts text at the given offsets. */
function cut(text: string, offsets: number[]): string[] {
  const points = [...new Set(offsets.map((o) => o % (text.length + 1)))].sort((a, b) => a - b);
  return [0, ...points].map((start, i) => text.slice(start, points[i] ?? text.length)).filter((piece) => piece !== "");
}

const replyLine = fc.stringMatching(/^[\x20-\x7e]{0,30}$/);
const reply = fc.record({ code: fc.integer({ min: 200, max: 599 }), lines: fc.array(replyLine, { minLength: 1, maxLength: 4 }) });
const render = (r: Reply, lineEnd: string) => r.lines.map((line, i) => `${r.code}${i < r.lines.length - 1 ? "-" : " "}${line}${lineEnd}`).join("");

describe("SMTP replies", () => {
  test("replies read the same however the stream is cut into chunks, with CRLF or bare LF", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(reply, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom("\r\n", "\n"), async (replies, offsets, lineEnd) => {
        const text = replies.map((r) => render(r, lineEnd)).join("");
        expect(await readAll(cut(text, offsets), replies.length)).toEqual(replies);
      }),
    );
  });

  test("a code alone on the last line is a complete reply with empty text", async () => {
    expect(await readAll(["220-hello\r\n220\r\n"], 1)).toEqual([{ code: 220, lines: ["hello", ""] }]);
  });

  test.each([
    ["a line without a code", "E_SMTP_PROTOCOL", ["HTTP/1.1 400 Bad Request\r\n"]],
    ["a partial line that cannot become one", "E_SMTP_PROTOCOL", ["22x"]],
    ["a code of four digits", "E_SMTP_PROTOCOL", ["2200 hello\r\n"]],
    ["continuation lines with another code", "E_SMTP_PROTOCOL", ["220-a\r\n221 b\r\n"]],
    ["a reply that never ends", "E_SMTP_PROTOCOL", ["220-", "x".repeat(70_000)]],
    ["the peer closing mid-reply", "E_SMTP_CLOSED", ["220-a\r\n"]],
    ["the peer closing at once", "E_SMTP_CLOSED", []],
  ])("%s fails with %s", async (_what, code, chunks) => {
    const failure = await readAll(chunks, 1).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(PhaseError);
    expect((failure as PhaseError).code).toBe(code);
  });
});
