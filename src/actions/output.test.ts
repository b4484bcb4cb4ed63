import { expect, test } from "bun:test";
import { TailBuffer } from "./output.ts";

test("a tail buffer keeps the last bytes when a large chunk is followed by a small one", () => {
  const buffer = new TailBuffer(10);
  buffer.push("abcdefghijklmnopqrstuvwxyz");
  buffer.push("\n");
  expect(buffer.toString()).toBe("rstuvwxyz\n");
  expect(buffer.truncated).toBe(true);
});

test("a tail buffer under its limit keeps everything and is not truncated", () => {
  const buffer = new TailBuffer(10);
  buffer.push("abc");
  buffer.push("def");
  expect(buffer.toString()).toBe("abcdef");
  expect(buffer.truncated).toBe(false);
});

test("many small chunks over the limit keep exactly the last bytes", () => {
  const buffer = new TailBuffer(5);
  for (const c of "0123456789") buffer.push(c);
  expect(buffer.toString()).toBe("56789");
});
