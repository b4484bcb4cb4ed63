import { configError } from "../errors.ts";

// Timestamps in other tools' exports: RFC 3339 with an offset, epoch seconds or
// milliseconds, or a local wall time read in an IANA zone with DST handled.

const epochPattern = /^\d+(?:\.\d+)?$/;
const dayMs = 86_400_000;
const daysIn = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Midnight UTC of a date (year 100 and on) in epoch ms, by arithmetic:
 * Date.UTC measured at about 0.5 µs a call here, a third of the import's
 * time for four timestamps a row. (Date.UTC reads years 0-99 as 1900-1999,
 * so those still go through it.) Days from the civil date as in H. Hinnant's
 * "chrono-compatible low-level date algorithms".
 */
function utcMs(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return (era * 146_097 + dayOfEra - 719_468) * dayMs;
}

/** The number written by `count` digits from `from`, or -1. */
function digits(text: string, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (!(digit >= 0 && digit <= 9)) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Two digits at `from` as a number, or -1. */
function twoDigits(text: string, from: number): number {
  const high = text.charCodeAt(from) - 48;
  const low = text.charCodeAt(from + 1) - 48;
  return high >= 0 && high <= 9 && low >= 0 && low <= 9 ? high * 10 + low : -1;
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ` exactly, the shape most exports write, in epoch ms;
 * -1 for any other text and for a date or time that does not exist, which
 * readIsoTime then reads or reports. It allocates nothing, where
 * readIsoTime returns an object for each timestamp.
 */
function readUtcSeconds(text: string): number {
  if (text.length !== 20 || text.charCodeAt(19) !== 90 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return -1;
  const century = twoDigits(text, 0);
  const yearOfCentury = twoDigits(text, 2);
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const hour = twoDigits(text, 11);
  const minute = twoDigits(text, 14);
  const second = twoDigits(text, 17);
  // Years before 100 go through Date.UTC in readIsoTime.
  if (century < 1 || yearOfCentury < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return -1;
  const year = century * 100 + yearOfCentury;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > daysIn[month - 1]! + (leap ? 1 : 0)) return -1;
  return utcMs(year, month, day) + ((hour * 60 + minute) * 60 + second) * 1000;
}

/**
 * Reads `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][ ](Z|UTC|GMT|±HH[[:]MM])`: the wall
 * time as if it were UTC, and the offset when one is written. By hand rather
 * than with a RegExp: a million rows have three timestamps each, and this is
 * several times faster.
 */
function readIsoTime(text: string): { wall: number; offset?: number } | undefined {
  const end = text.length;
  if (end < 10 || text[4] !== "-" || text[7] !== "-") return undefined;
  // Plain assignments, not destructuring: this runs for every timestamp of an export.
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  let hour = 0;
  let minute = 0;
  let second = 0;
  let ms = 0;
  let i = 10;
  if ((text[i] === "T" || text[i] === "t" || text[i] === " ") && text[i + 3] === ":") {
    hour = digits(text, i + 1, 2);
    minute = digits(text, i + 4, 2);
    i += 6;
    if (text[i] === ":") {
      second = digits(text, i + 1, 2);
      i += 3;
    }
    if (text[i] === "." || text[i] === ",") {
      const start = ++i;
      for (let scale = 100; i < end && digits(text, i, 1) >= 0; i++, scale /= 10) ms += digits(text, i, 1) * scale;
      if (i === start) return undefined;
    }
  }
  while (text[i] === " ") i++;
  let offset: number | undefined;
  if (i < end) {
    const sign = text[i];
    if (sign === "Z" || sign === "z") {
      offset = 0;
      i++;
    } else if (text.startsWith("UTC", i) || text.startsWith("GMT", i)) {
      // "2024-05-01 10:22:33 UTC", as several exports write it.
      offset = 0;
      i += 3;
    } else if (sign === "+" || sign === "-") {
      const hours = digits(text, i + 1, 2);
      i += text[i + 3] === ":" ? 4 : 3;
      const minutes = i < end ? digits(text, i, 2) : 0;
      if (i < end) i += 2;
      if (hours < 0 || minutes < 0) return undefined;
      offset = (sign === "-" ? -1 : 1) * (hours * 60 + minutes) * 60_000;
    }
    if (i !== end) return undefined;
  }
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn[month - 1]! + (leap ? 1 : 0)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  const wall = year < 100 ? Date.UTC(year, month - 1, day, hour, minute, second, Math.floor(ms)) : utcMs(year, month, day) + ((hour * 60 + minute) * 60 + second) * 1000 + Math.floor(ms);
  return offset === undefined ? { wall } : { wall, offset };
}

type TemporalApi = typeof import("temporal-polyfill").Temporal;
let temporal: TemporalApi | undefined;
/** Loaded on first use: only an import with a --timezone other than UTC reads zones, and no other command pays for the library. */
function loadTemporal(): TemporalApi {
  // require, not import(): a reader is made synchronously; Bun bundles it into the executable all the same.
  temporal ??= (require("temporal-polyfill") as typeof import("temporal-polyfill")).Temporal;
  return temporal;
}

/**
 * Maps a wall time in an IANA zone to its instant (Temporal's zone rules): a
 * wall time in a spring-forward gap has none (NaN); one repeated at a
 * fall-back has two and takes the earlier, which is what the exporting tool
 * most likely meant (the first time the clock showed it).
 *
 * Most days have one offset all day, and for those a row costs a
 * subtraction: the offsets a day before and two days after bound every
 * instant a wall time of that day can stand for, and when they agree the
 * day needs no more. Measured reading a million local timestamps
 * (Europe/Berlin, one every 31.5 s over a year, 2 shared cores): 1.1 to
 * 1.9 µs each with Temporal converting every one, 0.32 to 0.45 µs with
 * this cache, parsing included; on an export of a million rows with four
 * timestamps that is 4.4 to 7.6 s against about 1.5 s. So the cache stays, and
 * Temporal gives the offsets and answers the days a zone changes them.
 */
function localTime(zone: string): (wall: number) => number {
  const Temporal = loadTemporal();
  // Throws (RangeError) for a name that is no IANA zone.
  Temporal.Instant.fromEpochMilliseconds(0).toZonedDateTimeISO(zone);
  const offsetAt = (instant: number): number => Temporal.Instant.fromEpochMilliseconds(instant).toZonedDateTimeISO(zone).offsetNanoseconds / 1e6;
  const exact = (wall: number): number => {
    const d = new Date(wall);
    const local = new Temporal.PlainDateTime(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
    const earlier = local.toZonedDateTime(zone, { disambiguation: "earlier" });
    // In a gap, "earlier" moves the wall time back by the gap: it shows another time than the one written.
    return earlier.toPlainDateTime().equals(local) ? earlier.epochMilliseconds : NaN;
  };
  const days = new Map<number, { before: number; after: number }>();
  return (wall) => {
    const day = Math.floor(wall / dayMs);
    let bounds = days.get(day);
    if (!bounds) {
      if (days.size >= 100_000) days.clear();
      bounds = { before: offsetAt((day - 1) * dayMs), after: offsetAt((day + 2) * dayMs) };
      days.set(day, bounds);
    }
    if (bounds.before === bounds.after) return wall - bounds.before;
    return exact(wall);
  };
}

/**
 * Reads a timestamp: ISO 8601 / RFC 3339 with Z or an offset as it is; digits
 * as epoch seconds, or milliseconds from 10^11 on (seconds would be the year
 * 5138 by then); ISO without an offset as a wall time in `zone`. Returns the
 * epoch ms, or why the text is not a timestamp.
 */
export function timestampReader(zone: string): (text: string) => number | string {
  let local: (wall: number) => number;
  try {
    local = zone === "UTC" ? (wall) => wall : localTime(zone);
  } catch {
    throw configError("E_IMPORT_TIMEZONE", `unknown time zone ${JSON.stringify(zone)}`, "use an IANA zone name such as UTC, Europe/Berlin or America/New_York");
  }
  return (text) => {
    const utc = readUtcSeconds(text);
    if (utc >= 0) return utc;
    // A date has its dash at 4; only other text can be epoch digits.
    if (text.charCodeAt(4) !== 45 && epochPattern.test(text)) {
      const value = Number(text);
      return Math.round(value < 1e11 ? value * 1000 : value);
    }
    const time = readIsoTime(text);
    if (!time) return `${JSON.stringify(text)} is not a timestamp`;
    if (time.offset !== undefined) return time.wall - time.offset;
    const instant = local(time.wall);
    return Number.isNaN(instant) ? `${JSON.stringify(text)} does not exist in ${zone} (the clocks skip it)` : instant;
  };
}
