import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadTestConfig } from "../../test/harness/config.ts";
import { compileSchedules, type CompiledSchedule } from "./cron.ts";
import { dueTime, forbiddenBy, jitterDelay, missedTime, wakeTime } from "./decide.ts";
import type { ScheduleFireRecord } from "./types.ts";

const config = `
workflows:
  every-10s:
    schedule: "*/10 * * * * *"
    steps: [{ exec: "true" }]
  paris-0230:
    schedule: { cron: "30 2 * * *", timezone: Europe/Paris, jitter: 1m, concurrency: allow, missed: once }
    steps: [{ exec: "true" }]
  hourly:
    schedule: { cron: "0 * * * *", jitter: 30m }
    steps: [{ exec: "true" }]
  unscheduled:
    steps: [{ exec: "true" }]
`;

let schedules: Map<string, CompiledSchedule>;
let remove = () => {};
beforeAll(async () => {
  const made = await loadTestConfig(config);
  remove = made.remove;
  schedules = new Map((await compileSchedules(made.loaded)).map((s) => [s.name, s]));
});
afterAll(() => remove());

const at = (iso: string) => Date.parse(iso);
const fire = (schedule: string, when: number, more: Partial<ScheduleFireRecord> = {}): ScheduleFireRecord => ({ schedule, at: when, firedAt: when, replica: "r1", status: "running", ...more });

describe("compiled schedules", () => {
  test("only scheduled workflows, with their defaults: UTC, forbid, skip, no jitter", () => {
    expect([...schedules.keys()]).toEqual(["every-10s", "paris-0230", "hourly"]);
    const s = schedules.get("every-10s")!;
    expect({ timezone: s.timezone, concurrency: s.concurrency, missed: s.missed, jitterMs: s.jitterMs }).toEqual({ timezone: "UTC", concurrency: "forbid", missed: "skip", jitterMs: 0 });
    expect(schedules.get("paris-0230")!.jitterMs).toBe(60_000);
  });

  test("six fields count seconds; next is strictly after, latest at or before", () => {
    const s = schedules.get("every-10s")!;
    expect(s.next(at("2026-01-01T00:00:10Z"))).toBe(at("2026-01-01T00:00:20Z"));
    expect(s.next(at("2026-01-01T00:00:09.999Z"))).toBe(at("2026-01-01T00:00:10Z"));
    expect(s.latest(at("2026-01-01T00:00:10Z"))).toBe(at("2026-01-01T00:00:10Z"));
    expect(s.latest(at("2026-01-01T00:00:09.999Z"))).toBe(at("2026-01-01T00:00:00Z"));
    expect(s.upcoming(at("2026-01-01T00:00:05Z"), 3)).toEqual([at("2026-01-01T00:00:10Z"), at("2026-01-01T00:00:20Z"), at("2026-01-01T00:00:30Z")]);
  });

  test("the time zone moves the times with daylight saving; a time the spring-forward skips runs after the gap", () => {
    const s = schedules.get("paris-0230")!;
    // 02:30 in Paris is 01:30Z in winter (UTC+1) and 00:30Z in summer (UTC+2); on 2026-03-29 02:30 does not exist.
    expect(s.upcoming(at("2026-03-27T00:00:00Z"), 4).map((t) => new Date(t).toISOString())).toEqual([
      "2026-03-27T01:30:00.000Z",
      "2026-03-28T01:30:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
    ]);
  });
});

describe("jitter", () => {
  test("is the same for a (schedule, time) wherever it is computed, under the jitter, and varies with the time", () => {
    const s = schedules.get("hourly")!;
    const times = Array.from({ length: 200 }, (_, i) => at("2026-01-01T00:00:00Z") + i * 3_600_000);
    const delays = times.map((t) => jitterDelay(s, t));
    expect(times.map((t) => jitterDelay({ name: "hourly", jitterMs: s.jitterMs }, t))).toEqual(delays);
    expect(delays.every((d) => d >= 0 && d < 30 * 60_000)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(190);
    // Spread over the whole range, not bunched at one end.
    expect(delays.filter((d) => d < 15 * 60_000).length).toBeGreaterThan(60);
    expect(delays.filter((d) => d >= 15 * 60_000).length).toBeGreaterThan(60);
    expect(jitterDelay({ name: "other", jitterMs: s.jitterMs }, times[0]!)).not.toBe(delays[0]);
    expect(wakeTime(s, times[0]!)).toBe(times[0]! + delays[0]!);
  });

  test("none without jitter", () => {
    expect(jitterDelay(schedules.get("every-10s")!, at("2026-01-01T00:00:10Z"))).toBe(0);
  });
});

describe("the time a wake-up fires", () => {
  const s = () => schedules.get("every-10s")!;
  test("the time it waited for, on time or a little late", () => {
    expect(dueTime(s(), at("2026-01-01T00:00:10Z"), at("2026-01-01T00:00:10Z"))).toBe(at("2026-01-01T00:00:10Z"));
    expect(dueTime(s(), at("2026-01-01T00:00:10Z"), at("2026-01-01T00:00:19.9Z"))).toBe(at("2026-01-01T00:00:10Z"));
  });

  test("after a stall past later times, the latest of them (those between are missed)", () => {
    expect(dueTime(s(), at("2026-01-01T00:00:10Z"), at("2026-01-01T00:00:45Z"))).toBe(at("2026-01-01T00:00:40Z"));
  });

  test("with jitter, the latest time whose jittered start has come", () => {
    const hourly = schedules.get("hourly")!;
    const first = at("2026-01-01T00:00:00Z");
    const third = first + 2 * 3_600_000;
    // Woken just before the third hour's jittered start: the second hour is the latest due.
    const now = wakeTime(hourly, third) - 1;
    const expected = wakeTime(hourly, third - 3_600_000) <= now ? third - 3_600_000 : first;
    expect(dueTime(hourly, first, now)).toBe(expected);
    expect(dueTime(hourly, first, wakeTime(hourly, third))).toBe(third);
  });
});

describe("missed times", () => {
  const now = at("2026-01-01T00:00:45Z");
  test("missed: once gives the latest time since the last fire", () => {
    const s = { ...schedules.get("every-10s")!, missed: "once" as const };
    expect(missedTime(s, fire("every-10s", at("2026-01-01T00:00:00Z")), now)).toBe(at("2026-01-01T00:00:40Z"));
    expect(missedTime(s, fire("every-10s", at("2026-01-01T00:00:40Z")), now)).toBeUndefined();
  });

  test("a schedule that never fired has missed nothing; missed: skip never makes up", () => {
    const s = schedules.get("every-10s")!;
    expect(missedTime({ ...s, missed: "once" }, undefined, now)).toBeUndefined();
    expect(missedTime(s, fire("every-10s", at("2026-01-01T00:00:00Z")), now)).toBeUndefined();
  });
});

describe("concurrency", () => {
  const t = at("2026-01-01T00:00:20Z");
  test("forbid: skipped while an earlier fire of the same schedule runs, with what runs and where", () => {
    const s = schedules.get("every-10s")!;
    const reason = forbiddenBy(s, t, [fire("every-10s", t - 10_000, { runId: "R1", replica: "web-2" })]);
    expect(reason).toContain("2026-01-01T00:00:10.000Z");
    expect(reason).toContain("run R1");
    expect(reason).toContain("web-2");
  });

  test("forbid: other schedules' runs and the fire itself do not count", () => {
    const s = schedules.get("every-10s")!;
    expect(forbiddenBy(s, t, [fire("hourly", t - 10_000), fire("every-10s", t)])).toBeUndefined();
  });

  test("allow: never skipped", () => {
    expect(forbiddenBy(schedules.get("paris-0230")!, t, [fire("paris-0230", t - 86_400_000)])).toBeUndefined();
  });
});
