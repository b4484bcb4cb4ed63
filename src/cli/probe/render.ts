import { statusText, type ProbeResult, type ProbeTally, type Verdict } from "../../probe/index.ts";
import { formatMs, type Palette } from "../../ui/index.ts";

const verdictWord: Record<Verdict, string> = { healthy: "HEALTHY", unhealthy: "UNHEALTHY", down: "DOWN", interrupted: "INTERRUPTED" };

export function slowestPhase(result: ProbeResult): string {
  let name = "";
  let ms = -1;
  for (const [phase, value] of Object.entries(result.timings)) {
    if (phase !== "total" && value !== undefined && value > ms) {
      name = phase;
      ms = value;
    }
  }
  return ms < 0 ? "" : `${name} ${formatMs(ms)}`;
}

/** One scannable line: verdict, name, status, total, slowest phase, reason. */
export function formatResultLine(result: ProbeResult, nameWidth: number, palette: Palette): string {
  const paint = result.verdict === "healthy" ? palette.green : result.verdict === "unhealthy" ? palette.yellow : palette.red;
  const attempts = result.attempts.length > 1 ? ` (attempt ${result.attempts.length}/${result.attempts.length})` : "";
  const columns = [
    paint(verdictWord[result.verdict].padEnd(11)),
    result.name.padEnd(nameWidth),
    statusText(result).padEnd(9),
    formatMs(result.timings.total).padStart(8),
    palette.dim(slowestPhase(result).padEnd(18)),
  ];
  const tail = result.reason ? `${result.reason}${attempts}` : attempts.trim();
  return `${columns.join(" ")}${tail ? ` ${tail}` : ""}`.trimEnd();
}

export function formatSummary(tally: ProbeTally, palette: Palette): string {
  const parts = [palette.green(`${tally.healthy} healthy`), palette.yellow(`${tally.unhealthy} unhealthy`), palette.red(`${tally.down} down`)];
  if (tally.interrupted > 0) parts.push(`${tally.interrupted} interrupted`);
  if (tally.notStarted > 0) parts.push(`${tally.notStarted} not started`);
  const noun = tally.targets === 1 ? "target" : "targets";
  return `${tally.targets} ${noun}: ${parts.join(", ")} in ${formatMs(tally.durationMs)}`;
}
