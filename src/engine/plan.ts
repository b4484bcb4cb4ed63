import type { Strategy } from "../config/index.ts";

/** A count, or a share of `total` ("25%", rounded up so a batch is never empty). */
export function resolveCount(value: number | string, total: number): number {
  if (typeof value === "number") return value;
  return Math.ceil((parseFloat(value) / 100) * total);
}

/**
 * Splits targets into batches. Rolling sizes apply in order and the last one
 * repeats; percentages are of all targets. Parallel is one batch.
 */
export function planBatches<T>(targets: readonly T[], strategy: Strategy): T[][] {
  if ("parallel" in strategy || targets.length === 0) return targets.length === 0 ? [] : [[...targets]];
  const sizes = Array.isArray(strategy.rolling.batch) ? strategy.rolling.batch : [strategy.rolling.batch];
  const batches: T[][] = [];
  let at = 0;
  let i = 0;
  while (at < targets.length) {
    const size = Math.max(1, resolveCount(sizes[Math.min(i, sizes.length - 1)]!, targets.length));
    batches.push(targets.slice(at, at + size));
    at += size;
    i++;
  }
  return batches;
}

/** How many failures (and unreachable targets) a run tolerates; one budget under every strategy. */
export function failureBudget(strategy: Strategy, workflow: { maxFailures?: number | string; maxUnreachable?: number | string }, total: number) {
  const rolling = "rolling" in strategy ? strategy.rolling : undefined;
  const maxFailures = rolling?.maxFailures ?? workflow.maxFailures;
  const maxUnreachable = rolling?.maxUnreachable ?? workflow.maxUnreachable ?? maxFailures;
  return {
    failures: maxFailures === undefined ? Number.POSITIVE_INFINITY : resolveCount(maxFailures, total),
    unreachable: maxUnreachable === undefined ? Number.POSITIVE_INFINITY : resolveCount(maxUnreachable, total),
  };
}
