import { expect, test } from "bun:test";
import { shardCount } from "./shard.ts";

test("workers: one per core but one for large lists, none for small ones, as asked with --workers", () => {
  expect(shardCount(20_000, 64, "auto", 2)).toBe(1);
  expect(shardCount(20_000, 64, "auto", 8)).toBe(7);
  expect(shardCount(500, 64, "auto", 8)).toBe(1);
  expect(shardCount(20_000, 16, "auto", 8)).toBe(2);
  expect(shardCount(10, 64, 4, 2)).toBe(4);
  expect(shardCount(3, 64, 4, 2)).toBe(3);
});
