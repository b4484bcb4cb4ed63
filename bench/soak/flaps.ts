// Which of the soak's endpoints flap and when: 1% of them (at least one),
// spread evenly over the check numbers, each down for DOWN_SEC out of every
// PERIOD_SEC with the starts staggered over the period, so that some alert
// fires, runs its remediation and resolves at every moment of the soak
// rather than all at once. The endpoints (which answer) and the runner
// (which counts the episodes to expect) both read it, from the same origin:
// the moment the endpoints started.

/** Seconds of each period a flapping endpoint answers 503. */
export const DOWN_SEC = 60;
export const PERIOD_SEC = 240;
/** Nothing flaps in the first minute: opskit starts and the page opens. */
export const FIRST_DOWN_SEC = 60;

export interface FlapSchedule {
  readonly checks: number;
  /** The flapping checks' numbers, ascending. */
  readonly flappers: number[];
  isFlapper(check: number): boolean;
  /** Whether the endpoint of `check` answers 503 at `sec` seconds after the origin. */
  isDown(check: number, sec: number): boolean;
  /** Down windows, as [start, end) seconds after the origin, that start at or after `fromSec` and end by `toSec`. */
  windows(fromSec: number, toSec: number): [number, number][];
}

export function flapSchedule(checks: number): FlapSchedule {
  const count = Math.max(1, Math.round(checks / 100));
  const flappers = Array.from({ length: count }, (_, k) => Math.floor(((k + 0.5) * checks) / count));
  const offset = new Map(flappers.map((check, k) => [check, FIRST_DOWN_SEC + (k * PERIOD_SEC) / count]));
  return {
    checks,
    flappers,
    isFlapper: (check) => offset.has(check),
    isDown(check, sec) {
      const start = offset.get(check);
      if (start === undefined || sec < start) return false;
      return (sec - start) % PERIOD_SEC < DOWN_SEC;
    },
    windows(fromSec, toSec) {
      const found: [number, number][] = [];
      for (const start of offset.values()) {
        for (let at = start; at + DOWN_SEC <= toSec; at += PERIOD_SEC) if (at >= fromSec) found.push([at, at + DOWN_SEC]);
      }
      return found.sort((a, b) => a[0] - b[0]);
    },
  };
}
