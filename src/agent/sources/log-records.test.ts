import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { RecordAssembler, type LogRecord, type RecordOptions } from "./log-records.ts";

/** Feeds `bytes` in the given chunk sizes; returns the records and the assembler. */
function assemble(bytes: Buffer, options: RecordOptions, cuts: number[] = [], offset = 0): { records: LogRecord[]; assembler: RecordAssembler } {
  const assembler = new RecordAssembler(options, offset);
  const records: LogRecord[] = [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
    assembler.push(bytes.subarray(from, cut), records);
    from = cut;
  }
  return { records, assembler };
}

/** The oracle: split on \n, drop the unterminated tail, drop one trailing \r, byte-truncate; multi-line by a plain fold. */
function oracle(text: string, options: RecordOptions): string[] {
  const complete = text.split("\n").slice(0, -1);
  const lines = complete.map((line) => {
    const bytes = Buffer.from(line);
    const cut = bytes.length > options.maxBytes ? bytes.subarray(0, options.maxBytes) : bytes;
    return (cut.at(-1) === 13 ? cut.subarray(0, -1) : cut).toString("utf8");
  });
  if (!options.start) return lines;
  const records: string[][] = [];
  for (const line of lines) {
    if (records.length > 0 && !options.start.test(line)) records.at(-1)!.push(line);
    else records.push([line]);
  }
  return records.map((parts) => parts.join("\n"));
}

const logText = fc.array(fc.oneof(fc.constantFrom("a", "b", " ", "\n", "\r\n", "START ", "é", "日本", "\u{1F600}"), fc.string({ maxLength: 6 })), { maxLength: 60 }).map((parts) => parts.join(""));

describe("RecordAssembler", () => {
  test("records and their offsets do not depend on how the bytes were chunked (property)", () => {
    fc.assert(
      fc.property(logText, fc.array(fc.nat(400), { maxLength: 12 }), fc.option(fc.constant(/^START/), { nil: undefined }), (text, cuts, start) => {
        const bytes = Buffer.from(text);
        const options = { maxBytes: 1 << 20, start };
        const whole = assemble(bytes, options);
        const chunked = assemble(bytes, options, cuts);
        expect(chunked.records).toEqual(whole.records);
        expect(chunked.assembler.resumeOffset).toBe(whole.assembler.resumeOffset);
        expect(whole.records.map((record) => record.message)).toEqual(oracle(text, options).slice(0, whole.records.length));
        // Offsets tile the file: each record starts where the one before ended.
        for (let i = 1; i < whole.records.length; i++) expect(whole.records[i]!.offset).toBe(whole.records[i - 1]!.end);
      }),
      { numRuns: 400 },
    );
  });

  test("single-line records equal the oracle, long lines cut at maxBytes and marked (property)", () => {
    fc.assert(
      fc.property(logText, fc.array(fc.nat(400), { maxLength: 8 }), fc.integer({ min: 1, max: 12 }), (text, cuts, maxBytes) => {
        const bytes = Buffer.from(text);
        const { records } = assemble(bytes, { maxBytes }, cuts);
        const expected = oracle(text, { maxBytes });
        // A cut inside a multi-byte character decodes to U+FFFD in both.
        expect(records.map((record) => record.message)).toEqual(expected);
        const lineBytes = text.split("\n").slice(0, -1).map((line) => Buffer.byteLength(line));
        expect(records.map((record) => record.truncated)).toEqual(lineBytes.map((n) => n > maxBytes));
      }),
      { numRuns: 400 },
    );
  });

  test("a line without its newline is held; resumeOffset points at its first byte", () => {
    const { records, assembler } = assemble(Buffer.from("one\ntwo\nthr"), { maxBytes: 100 }, [], 1000);
    expect(records.map((record) => [record.message, record.offset, record.end])).toEqual([
      ["one", 1000, 1004],
      ["two", 1004, 1008],
    ]);
    expect(assembler.hasPartial).toBe(true);
    expect(assembler.resumeOffset).toBe(1008);
    expect(assembler.nextOffset).toBe(1011);
    const out: LogRecord[] = [];
    assembler.flushAll(out);
    expect(out).toEqual([{ message: "thr", offset: 1008, end: 1011, truncated: false }]);
  });

  test("a pending multi-line record holds resumeOffset at its start until it is handed out", () => {
    const assembler = new RecordAssembler({ maxBytes: 100, start: /^\d/ }, 0);
    const out: LogRecord[] = [];
    assembler.push(Buffer.from("1 first\n  more\n2 second\n  tail\n"), out);
    expect(out.map((record) => record.message)).toEqual(["1 first\n  more"]);
    expect(assembler.resumeOffset).toBe(15);
    assembler.flushPending(out);
    expect(out.at(-1)).toEqual({ message: "2 second\n  tail", offset: 15, end: 31, truncated: false });
    expect(assembler.resumeOffset).toBe(31);
  });

  test("a multi-line record past maxBytes keeps its first lines and is marked truncated", () => {
    const { records, assembler } = assemble(Buffer.from(`S head\n${"  x\n".repeat(10)}S next\n`), { maxBytes: 20, start: /^S/ });
    expect(records).toEqual([{ message: "S head\n  x\n  x\n  x", offset: 0, end: 47, truncated: true }]);
    expect(assembler.resumeOffset).toBe(47);
  });
});
