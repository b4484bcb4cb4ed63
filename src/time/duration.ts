import { usageError } from "../errors.ts";

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a human duration ("250ms", "5s", "1m30s", "2h") into milliseconds.
 * A bare number is read as seconds, as curl's --max-time does.
 */
export function parseDuration(text: string, what = "duration"): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  // exec in a loop, as matchAll would: matchAll's first call alone costs a
  // command's startup a fifth of a millisecond.
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(trimmed); match; match = part.exec(trimmed)) {
    total += Number(match[1]) * unitMs[match[2]!]!;
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw usageError(
      "E_DURATION",
      `invalid ${what} "${text}"`,
      'use a number with a unit, e.g. "500ms", "5s", "1m30s" or "2h"',
    );
  }
  return total;
}
