import { describe, expect, test } from "bun:test";
import { EventQueue } from "./queue.ts";
import type { AgentEvent } from "./types.ts";

const event = (n: number): AgentEvent => ({ source: "s", kind: "log", time: n, fields: { n } });

describe("event queue", () => {
  test("refuses a push when full, keeps order, and says when there is room again (half empty)", async () => {
    const queue = new EventQueue(4);
    for (let n = 0; n < 4; n++) expect(queue.push(event(n))).toBe(true);
    expect(queue.push(event(4))).toBe(false);
    expect(queue.full).toBe(true);
    let woke = false;
    const waiting = queue.drained().then(() => (woke = true));
    queue.shift();
    await Bun.sleep(1);
    expect(woke).toBe(false);
    queue.shift();
    await waiting;
    expect(woke).toBe(true);
    expect(queue.push(event(4))).toBe(true);
    expect(queue.push(event(5))).toBe(true);
    const order: number[] = [];
    for (let e = queue.shift(); e; e = queue.shift()) order.push(e.fields.n as number);
    expect(order).toEqual([2, 3, 4, 5]);
    expect(queue.length).toBe(0);
  });

  test("release lets waiters go (a stopping agent)", async () => {
    const queue = new EventQueue(2);
    queue.push(event(0));
    queue.push(event(1));
    const waiting = queue.drained();
    queue.release();
    await waiting;
    expect(queue.length).toBe(2);
  });
});
