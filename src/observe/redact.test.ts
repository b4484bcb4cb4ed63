import { describe, expect, test } from "bun:test";
import { MASK, MIN_SECRET_LENGTH, Redactor } from "./redact.ts";

const streamed = (redactor: Redactor, chunks: string[]) => {
  const stream = redactor.stream();
  return chunks.map((chunk) => stream.push(chunk)).join("") + stream.flush();
};

describe("Redactor", () => {
  test("masks every occurrence of every registered secret, longest first", () => {
    const redactor = new Redactor();
    redactor.add("s3cr3t-token");
    redactor.add("s3cr3t-token-and-more");
    expect(redactor.redact("a=s3cr3t-token b=s3cr3t-token-and-more c=s3cr3t-token")).toBe(`a=${MASK} b=${MASK} c=${MASK}`);
  });

  test(`values shorter than ${MIN_SECRET_LENGTH} characters are not masked; a multi-line secret masks each line`, () => {
    const redactor = new Redactor();
    redactor.add("12345");
    redactor.add("-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQC\n-----END KEY-----\n");
    expect(redactor.redact("pin 12345")).toBe("pin 12345");
    expect(redactor.redact("line AAAAB3NzaC1yc2EAAAADAQABAAABAQC")).toBe(`line ${MASK}`);
  });

  test("a secret split across two output chunks is masked", () => {
    const redactor = new Redactor();
    redactor.add("hunter2-hunter2");
    expect(streamed(redactor, ["TOKEN=hunt", "er2-hun", "ter2\nnext line\n"])).toBe(`TOKEN=${MASK}\nnext line\n`);
    // What cannot begin a secret is passed on at once, not held.
    const stream = redactor.stream();
    expect(stream.push("plain output\n")).toBe("plain output\n");
    expect(stream.push("ends with hunt")).toBe("ends with ");
    expect(stream.push("ing season")).toBe("hunting season");
    expect(stream.flush()).toBe("");
  });

  test("streamed output, however it is cut into three chunks, is masked as the whole text is", () => {
    const redactor = new Redactor();
    redactor.add("Zq9!x-Zq9!y");
    redactor.add("Zq9!x-tail");
    for (const text of ["Zq9!x-Zq9!x-Zq9!y.", "aZq9!x-taiZq9!x-tail Zq9!", "Zq9!x-Zq9!yZq9!x-Zq9!y", "Zq9Zq9!x-Zq9!x-tail"]) {
      for (let i = 0; i <= text.length; i++) {
        for (let j = i; j <= text.length; j++) {
          expect(streamed(redactor, [text.slice(0, i), text.slice(i, j), text.slice(j)])).toBe(redactor.redact(text));
        }
      }
    }
  });

  test("redactValue masks strings deep in an event and leaves untouched values as they are", () => {
    const redactor = new Redactor();
    redactor.add("abcdef-123456");
    const clean = { a: [1, "x"], b: { c: true } };
    const event = { type: "step.finished", result: { stdout: "T=abcdef-123456\n", error: { message: "bad abcdef-123456" } }, clean };
    const out = redactor.redactValue(event);
    expect(out.result).toEqual({ stdout: `T=${MASK}\n`, error: { message: `bad ${MASK}` } });
    expect(out.clean).toBe(clean);
    expect(event.result.stdout).toBe("T=abcdef-123456\n");
  });
});
