import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { timestampReader } from "./timestamps.ts";

// Local times around DST changes, checked against another implementation of
// the zone rules: the system's `date` (glibc and the OS's tzdata), asked the
// other way round. Every instant of three days, minute by minute, becomes
// the wall time `date` shows for it; a wall time then stands for the
// instants that show it: none in a gap, two at a fall-back (the reader takes
// the earlier), one otherwise.

const MIN = 60_000;
const DAY = 86_400_000;

/** The wall time (`YYYY-MM-DD HH:MM:SS`) `date` shows in `zone` for each instant, in one process. */
function wallTimes(zone: string, instants: number[]): string[] {
  if (!existsSync(`/usr/share/zoneinfo/${zone}`)) throw new Error(`no tzdata for ${zone} (/usr/share/zoneinfo): install the tzdata package`);
  const result = Bun.spawnSync(["date", "-f", "-", "+%Y-%m-%d %H:%M:%S"], { env: { TZ: zone, LC_ALL: "C" }, stdin: new TextEncoder().encode(instants.map((t) => `@${t / 1000}`).join("\n") + "\n") });
  if (!result.success) throw new Error(`date failed: ${result.stderr.toString()}`);
  const lines = result.stdout.toString().trimEnd().split("\n");
  expect(lines).toHaveLength(instants.length);
  return lines;
}

/** For each wall time shown from the day before `day` to the day after, the instants that show it, minute by minute. */
function oracle(zone: string, day: string): Map<string, number[]> {
  const start = Date.parse(`${day}T00:00:00Z`) - 2 * DAY;
  const instants = Array.from({ length: (5 * DAY) / MIN }, (_, i) => start + i * MIN);
  const shown = new Map<string, number[]>();
  wallTimes(zone, instants).forEach((wall, i) => shown.set(wall, [...(shown.get(wall) ?? []), instants[i]!]));
  return shown;
}

const pad = (n: number) => String(n).padStart(2, "0");

// Each a day a zone changes its offset: spring forward and fall back, at 02:00, at midnight
// (Santiago), by 30 minutes (Lord Howe), Dublin's winter "negative DST", Newfoundland's
// half-hour zone, and Samoa's skipped day (30 December 2011 never happened in Apia).
const transitions: [zone: string, day: string][] = [
  ["Europe/Berlin", "2026-03-29"],
  ["Europe/Berlin", "2026-10-25"],
  ["America/New_York", "2026-03-08"],
  ["America/New_York", "2026-11-01"],
  ["Australia/Lord_Howe", "2026-04-05"],
  ["Australia/Lord_Howe", "2026-10-04"],
  ["America/Santiago", "2026-04-04"],
  ["America/Santiago", "2026-09-06"],
  ["Europe/Dublin", "2026-03-29"],
  ["Europe/Dublin", "2026-10-25"],
  ["America/St_Johns", "2026-11-01"],
  ["Pacific/Apia", "2011-12-30"],
];

describe("local times across DST changes agree with the system's date", () => {
  for (const [zone, day] of transitions) {
    test(`${zone} around ${day}: gaps have no instant, repeated times their earlier one`, () => {
      const shown = oracle(zone, day);
      const read = timestampReader(zone);
      const base = Date.parse(`${day}T00:00:00Z`) - DAY;
      let gaps = 0;
      let repeats = 0;
      // Every 5 minutes of the day before, the day and the day after, as wall times.
      for (let wall = base; wall < base + 3 * DAY; wall += 5 * MIN) {
        const d = new Date(wall);
        const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:00`;
        const instants = shown.get(text);
        if (instants === undefined) {
          gaps++;
          expect({ text, read: read(text) }).toEqual({ text, read: `${JSON.stringify(text)} does not exist in ${zone} (the clocks skip it)` });
        } else {
          if (instants.length > 1) repeats++;
          expect({ text, read: read(text) }).toEqual({ text, read: Math.min(...instants) });
        }
      }
      // Each day changes the offset, so each shows a gap or a repeat (Apia's whole day is a gap).
      expect(gaps + repeats).toBeGreaterThan(0);
    });
  }

  test("a day's worth of readings stays right after the reader has cached the days around it", () => {
    const read = timestampReader("Europe/Berlin");
    // The ordinary day before is read first, then the change, then the ordinary day after.
    expect(read("2026-03-28 02:30:00")).toBe(Date.parse("2026-03-28T01:30:00Z"));
    expect(read("2026-03-29 01:59:00")).toBe(Date.parse("2026-03-29T00:59:00Z"));
    expect(read("2026-03-29 03:00:00")).toBe(Date.parse("2026-03-29T01:00:00Z"));
    expect(read("2026-03-30 02:30:00")).toBe(Date.parse("2026-03-30T00:30:00Z"));
    expect(read("2026-03-29 02:30:00")).toBe('"2026-03-29 02:30:00" does not exist in Europe/Berlin (the clocks skip it)');
  });

  test("an offset or UTC written on the time wins over the zone", () => {
    const read = timestampReader("America/New_York");
    expect(read("2026-03-08 02:30:00 UTC")).toBe(Date.parse("2026-03-08T02:30:00Z"));
    expect(read("2026-03-08 02:30:00 GMT")).toBe(Date.parse("2026-03-08T02:30:00Z"));
    expect(read("2026-03-08T02:30:00-05:00")).toBe(Date.parse("2026-03-08T07:30:00Z"));
  });
});
