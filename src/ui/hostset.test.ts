import { describe, expect, test } from "bun:test";
import { foldHostNames } from "./hostset.ts";

describe("foldHostNames", () => {
  test("folds consecutive numbers into ranges", () => {
    expect(foldHostNames(Array.from({ length: 40 }, (_, i) => `web-${i + 1}`))).toBe("web-[1-40]");
  });

  test("keeps gaps, other prefixes and plain names apart", () => {
    expect(foldHostNames(["web-1", "web-2", "web-3", "web-7", "db-2", "bastion"])).toBe("bastion,db-2,web-[1-3,7]");
  });

  test("keeps zero padding and suffixes", () => {
    expect(foldHostNames(["node-01.example", "node-02.example", "node-10.example"])).toBe("node-[01-02,10].example");
  });

  test("a single host is just its name", () => {
    expect(foldHostNames(["web-5"])).toBe("web-5");
  });
});
