import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { AgentEvent } from "./types.ts";
import { Windows } from "./windows.ts";

const at = (second: number, kind = "exec", source = "kernel"): AgentEvent => ({ source, kind, time: second * 1000 + 250, fields: {} });

describe("windows", () => {
  test("counts per source, per kind and per key over the last duration, a second at a time", () => {
    const w = new Windows(300);
    const now = 10_000;
    w.add(at(now - 120), "sshd", now * 1000);
    w.add(at(now - 30), "sshd", now * 1000);
    w.add(at(now - 30, "oom"), "java", now * 1000);
    w.add(at(now), "cron", now * 1000);
    const ms = now * 1000 + 999;
    expect(w.count("kernel", undefined, 60_000, ms)).toBe(3);
    expect(w.count("kernel", undefined, 300_000, ms)).toBe(4);
    expect(w.count("kernel", "exec", 60_000, ms)).toBe(2);
    expect(w.count("kernel", "oom", 60_000, ms)).toBe(1);
    expect(w.count("kernel", "sshd", 60_000, ms)).toBe(1);
    expect(w.count("kernel", "sshd", 300_000, ms)).toBe(2);
    expect(w.count("kernel", "nobody", 300_000, ms)).toBe(0);
    expect(w.count("logs", undefined, 300_000, ms)).toBe(0);
    // One second is the smallest window: the current second alone.
    expect(w.count("kernel", undefined, 1, ms)).toBe(1);
    expect(w.rate("kernel", "exec", 60_000, ms)).toBeCloseTo(2 / 60);
  });

  test("what falls out of the span is forgotten, and a later second clears the ring it reuses", () => {
    const w = new Windows(10);
    for (let s = 0; s < 10; s++) w.add(at(100 + s), undefined, (100 + s) * 1000);
    expect(w.count("kernel", undefined, 10_000, 109_500)).toBe(10);
    // 25 seconds later: the ring wrapped twice; nothing old may be read back.
    w.add(at(134), undefined, 134_000);
    expect(w.count("kernel", undefined, 10_000, 134_500)).toBe(1);
    expect(w.count("kernel", undefined, 10_000, 140_500)).toBe(1);
    expect(w.count("kernel", undefined, 10_000, 144_500)).toBe(0);
    // An event older than the span does not count; one from the future counts now.
    w.add(at(120), undefined, 134_000);
    w.add(at(999), undefined, 134_000);
    expect(w.count("kernel", undefined, 10_000, 134_500)).toBe(2);
  });

  test("keys per source are bounded: past the bound an idle key makes room, else the event is counted as dropped", () => {
    const dropped: string[] = [];
    const w = new Windows(60, { maxKeys: 2, onKeyDropped: (source) => dropped.push(source) });
    w.add(at(1000), "a", 1_000_000);
    w.add(at(1000), "b", 1_000_000);
    w.add(at(1001), "c", 1_001_000);
    expect(dropped).toEqual(["kernel"]);
    expect(w.count("kernel", "c", 60_000, 1_001_500)).toBe(0);
    // Still counted per source and kind.
    expect(w.count("kernel", "exec", 60_000, 1_001_500)).toBe(3);
    // A minute later "a" is idle and gives its place.
    w.add(at(1061), "a", 1_061_000);
    w.add(at(1062), "d", 1_062_000);
    expect(w.count("kernel", "d", 60_000, 1_062_500)).toBe(1);
  });

  test("matches a naive count over every event, for generated streams", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.constantFrom("exec", "oom")), { maxLength: 200 }), fc.integer({ min: 1, max: 120 }), (offsets, windowSec) => {
        const span = 60;
        const w = new Windows(span);
        // In any order, as sources with several readers deliver them.
        const events = offsets;
        for (const [second, kind] of events) w.add(at(second, kind), undefined, 200_999);
        const now = 200;
        const look = Math.min(span, windowSec);
        const naive = events.filter(([second]) => second > now - look && second <= now).length;
        const naiveOom = events.filter(([second, kind]) => kind === "oom" && second > now - look && second <= now).length;
        expect(w.count("kernel", undefined, windowSec * 1000, now * 1000 + 500)).toBe(naive);
        expect(w.count("kernel", "oom", windowSec * 1000, now * 1000 + 500)).toBe(naiveOom);
      }),
    );
  });
});
