import { expect, test } from "bun:test";
import { shardCount } from "./shard.ts";

test("threads: one per core for large lists (at most 8, 8 probes in flight each), one for small ones, as asked with --workers", () => {
  expect(shardCount(20_000, 64, "auto", 2)).toBe(2);
  expect(shardCount(20_000, 64, "auto", 8)).toBe(8);
  expect(shardCount(20_000, 64, "auto", 16)).toBe(8);
  expect(shardCount(1_999, 64, "auto", 8)).toBe(1);
  expect(shardCount(20_000, 16, "auto", 8)).toBe(2);
  expect(shardCount(20_000, 64, "auto", 1)).toBe(1);
  expect(shardCount(10, 64, 4, 2)).toBe(4);
  expect(shardCount(3, 64, 4, 2)).toBe(3);
});
