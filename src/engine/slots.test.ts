import { describe, expect, test } from "bun:test";
import { Slots } from "./slots.ts";

describe("Slots", () => {
  test("hands out at most `size` slots; a release goes to the longest waiter first", async () => {
    const slots = new Slots(2);
    expect([slots.tryAcquire(), slots.tryAcquire(), slots.tryAcquire()]).toEqual([true, true, false]);
    const order: string[] = [];
    const signal = new AbortController().signal;
    const first = slots.acquire(signal).then(() => order.push("first"));
    const second = slots.acquire(signal).then(() => order.push("second"));
    slots.release();
    await first;
    expect(order).toEqual(["first"]);
    expect(slots.inUse).toBe(2);
    slots.release();
    await second;
    expect(order).toEqual(["first", "second"]);
    slots.release();
    slots.release();
    expect(slots.inUse).toBe(0);
  });

  test("an aborted wait rejects with the signal's reason and takes no slot", async () => {
    const slots = new Slots(1);
    slots.tryAcquire();
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    controller.abort(new Error("stopping"));
    await expect(waiting).rejects.toThrow("stopping");
    slots.release();
    expect(slots.inUse).toBe(0);
    expect(slots.tryAcquire()).toBe(true);
    await expect(slots.acquire(controller.signal)).rejects.toThrow("stopping");
  });

  test("refuses a size that is not a positive integer", () => {
    for (const size of [0, -1, 1.5, Number.NaN]) expect(() => new Slots(size)).toThrow(RangeError);
  });
});
