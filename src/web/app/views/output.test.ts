import { expect, test } from "bun:test";
import fc from "fast-check";
import { LineRing, type OutputLine } from "./output.ts";

test("the output ring keeps the last lines up to its capacity, and its tail is the last of those that pass the filter", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.record({ target: fc.constantFrom("a", "b"), text: fc.string({ maxLength: 4 }) }), { maxLength: 60 }), fc.integer({ min: 0, max: 25 }), (capacity, pushed, count) => {
      const ring = new LineRing(capacity);
      const lines: OutputLine[] = pushed.map((p) => ({ ...p, stream: "stdout" }));
      for (const line of lines) ring.push(line);
      const kept = lines.slice(-capacity);
      expect(ring.total).toBe(lines.length);
      expect(ring.size).toBe(kept.length);
      expect(ring.tail(count)).toEqual(count === 0 ? [] : kept.slice(-count));
      expect(ring.tail(count, (l) => l.target === "a")).toEqual(count === 0 ? [] : kept.filter((l) => l.target === "a").slice(-count));
    }),
  );
});
