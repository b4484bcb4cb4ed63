import { formatChange, formatCount } from "./format.ts";
import { formatMs } from "../ui/index.ts";
import type { Cohort, Phase, PhaseChange } from "./types.ts";

export const plural = (count: number, noun: string) => `${formatCount(count)} ${noun}${count === 1 ? "" : "s"}`;

function openNote(cohorts: readonly Cohort[]): string {
  const open = cohorts.reduce((sum, c) => sum + c.open, 0);
  return open > 0 ? ` (${formatCount(open)} still open)` : "";
}

/** The one sentence a reader takes away, always with the counts behind it. */
export function headline(cohorts: readonly Cohort[], changes?: Record<Phase, PhaseChange>): string {
  const [baseline, current] = cohorts;
  if (!baseline) return "No incidents in this range.";
  if (!current) {
    const median = baseline.phases.resolve.median;
    if (baseline.incidents === 0) return "No incidents in this range.";
    if (median === undefined) return `No resolved incidents in this range${openNote([baseline])}.`;
    return `Median time to resolve ${formatMs(median)} over ${plural(baseline.resolved, "resolved incident")}${openNote([baseline])}.`;
  }
  const before = baseline.phases.resolve.median;
  const after = current.phases.resolve.median;
  if (before === undefined || after === undefined) {
    const describe = (c: Cohort) =>
      c.phases.resolve.median === undefined
        ? `${c.label} has no resolved incidents`
        : `${c.label} ${formatMs(c.phases.resolve.median)} over ${plural(c.resolved, "resolved incident")}`;
    return `Median time to resolve cannot be compared: ${describe(current)}, ${describe(baseline)}${openNote(cohorts)}.`;
  }
  const ratio = changes?.resolve.median;
  const change = ratio === undefined ? "" : formatChange(ratio);
  const verb = change === "no change" ? "unchanged" : change === "n/a" ? "" : change;
  return (
    `Median time to resolve ${verb ? `${verb} ` : ""}(${formatMs(before)} → ${formatMs(after)}), ` +
    `${current.label} vs ${baseline.label}, over ${formatCount(current.resolved)} and ` +
    `${formatCount(baseline.resolved)} resolved incidents${openNote(cohorts)}.`
  );
}

