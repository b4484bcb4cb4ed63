import { describe, expect, test } from "bun:test";
import { DOWN_SEC, FIRST_DOWN_SEC, PERIOD_SEC, flapSchedule } from "./flaps.ts";

describe("soak flapping schedule", () => {
  test("1% of the checks flap, at least one, spread over the numbers", () => {
    expect(flapSchedule(2000).flappers).toHaveLength(20);
    expect(flapSchedule(200).flappers).toHaveLength(2);
    expect(flapSchedule(20).flappers).toHaveLength(1);
    const { flappers } = flapSchedule(2000);
    expect(flappers[0]).toBe(50);
    expect(flappers.at(-1)).toBe(1950);
  });

  test("a flapper is down DOWN_SEC of every PERIOD_SEC after its staggered start; the others never", () => {
    const schedule = flapSchedule(2000);
    const [first, second] = schedule.flappers as [number, number];
    expect(schedule.isDown(first, FIRST_DOWN_SEC - 1)).toBe(false);
    expect(schedule.isDown(first, FIRST_DOWN_SEC)).toBe(true);
    expect(schedule.isDown(first, FIRST_DOWN_SEC + DOWN_SEC - 0.1)).toBe(true);
    expect(schedule.isDown(first, FIRST_DOWN_SEC + DOWN_SEC)).toBe(false);
    expect(schedule.isDown(first, FIRST_DOWN_SEC + PERIOD_SEC)).toBe(true);
    expect(schedule.isDown(second, FIRST_DOWN_SEC)).toBe(false);
    expect(schedule.isDown(second, FIRST_DOWN_SEC + PERIOD_SEC / 20)).toBe(true);
    for (let sec = 0; sec < 2000; sec += 7) expect(schedule.isDown(first + 1, sec)).toBe(false);
  });

  test("the windows counted are those the endpoints answer 503 in", () => {
    const schedule = flapSchedule(2000);
    const windows = schedule.windows(0, 30 * 60);
    // Over 30 minutes each of the 20 flappers starts a window every 240 s from its offset (60-288 s).
    expect(windows.length).toBeGreaterThanOrEqual(20 * 6);
    for (const [from, to] of windows) {
      const down = schedule.flappers.filter((check) => schedule.isDown(check, from) && schedule.isDown(check, to - 0.5));
      expect(down.length).toBeGreaterThanOrEqual(1);
      expect(to - from).toBe(DOWN_SEC);
    }
  });
});
