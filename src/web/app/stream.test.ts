import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { EventStreamParser, type StreamMessage } from "./stream.ts";

const parse = (chunks: string[]): StreamMessage[] => {
  const out: StreamMessage[] = [];
  const parser = new EventStreamParser((m) => out.push(m));
  for (const chunk of chunks) parser.push(chunk);
  return out;
};

/** Cuts text at the given places (sorted, deduplicated positions). */
const cut = (text: string, at: number[]): string[] => {
  const places = [...new Set(at.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let last = 0;
  for (const p of places) {
    parts.push(text.slice(last, p));
    last = p;
  }
  parts.push(text.slice(last));
  return parts;
};

describe("the dashboard's event-stream parser", () => {
  test("reads events, multi-line data, ids and comments as the HTML standard says", () => {
    const text = ": keep-alive\n\nevent: heal\ndata: {\"a\":1}\n\nid: 7\ndata: one\ndata: two\n\ndata:no space\r\n\r\nevent: x\n\n";
    expect(parse([text])).toEqual([
      { event: "heal", data: '{"a":1}' },
      { event: "message", data: "one\ntwo", id: "7" },
      { event: "message", data: "no space", id: "7" },
    ]);
  });

  test("any split of the stream into chunks (\\r\\n cut in two included) gives the same events", () => {
    const field = fc.stringMatching(/^[^\r\n]{0,12}$/);
    const event = fc.record({ event: fc.constantFrom("heal", "run", "output", ""), data: fc.array(field, { minLength: 1, maxLength: 3 }), eol: fc.constantFrom("\n", "\r\n", "\r") });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (events, at) => {
        const text = events.map((e) => `${e.event ? `event: ${e.event}${e.eol}` : ""}${e.data.map((d) => `data: ${d}${e.eol}`).join("")}${e.eol}`).join("");
        const whole = parse([text]);
        expect(whole).toEqual(events.map((e) => ({ event: e.event || "message", data: e.data.join("\n") })));
        expect(parse(cut(text, at))).toEqual(whole);
      }),
    );
  });
});
