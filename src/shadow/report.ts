import type { ShadowComparisonRecord, ShadowStore } from "../journal/index.ts";
import { formatMs, type Palette } from "../ui/index.ts";
import { agreementRate } from "./fallback.ts";

/** One name's standing, as `opskit shadow report` shows it; `--json` prints it as one line. */
export interface ShadowReportEntry {
  type: "shadow";
  name: string;
  comparisons: number;
  bySource: { cli: number; workflow: number };
  agreed: number;
  mismatched: number;
  legacyFailures: number;
  candidateFailures: number;
  /** Agreed over the comparisons where the legacy ran, 0..1; null when there are none. */
  agreementRate: number | null;
  firstAt: string | null;
  lastAt: string | null;
  fallenBack: boolean;
  fallenBackAt: string | null;
  fallbackReason: string | null;
  resetAt: string | null;
  /** The latest comparisons that did not agree, newest first. */
  latestMismatches: ShadowComparisonRecord[];
}

const iso = (ms: number | undefined | null) => (ms === undefined || ms === null ? null : new Date(ms).toISOString());

/** Every name in the journal (or one), with its latest `mismatches` disagreements. */
export async function buildShadowReport(journal: ShadowStore, name?: string, mismatches = name ? 3 : 1): Promise<ShadowReportEntry[]> {
  const filter = name === undefined ? {} : { name };
  const stats = new Map((await journal.shadowStats(filter)).map((s) => [s.name, s]));
  const count = async (source: "cli" | "workflow") => new Map((await journal.shadowStats({ ...filter, source })).map((s) => [s.name, s.comparisons]));
  const cli = await count("cli");
  const workflow = await count("workflow");
  const states = new Map((await journal.listShadowStates()).filter((s) => name === undefined || s.name === name).map((s) => [s.name, s]));
  const names = [...new Set([...stats.keys(), ...states.keys()])].sort();
  const entries: ShadowReportEntry[] = [];
  for (const n of names) {
    const s = stats.get(n);
    const state = states.get(n);
    const rate = s ? agreementRate(s) : undefined;
    entries.push({
      type: "shadow",
      name: n,
      comparisons: s?.comparisons ?? 0,
      bySource: { cli: cli.get(n) ?? 0, workflow: workflow.get(n) ?? 0 },
      agreed: s?.agreed ?? 0,
      mismatched: s?.mismatched ?? 0,
      legacyFailures: s?.legacyFailures ?? 0,
      candidateFailures: s?.candidateFailures ?? 0,
      agreementRate: rate ?? null,
      firstAt: iso(s?.firstAt),
      lastAt: iso(s?.lastAt),
      fallenBack: state?.fallenBackAt !== undefined,
      fallenBackAt: iso(state?.fallenBackAt),
      fallbackReason: state?.reason ?? null,
      resetAt: iso(state?.resetAt),
      latestMismatches: s && s.comparisons > s.agreed ? await journal.shadowComparisons(n, { limit: mismatches, mismatchesOnly: true }) : [],
    });
  }
  return entries;
}

const when = (text: string | null) => (text ? text.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-");
const indent = (text: string, by = "      ") =>
  text
    .split("\n")
    .map((line) => `${by}${line}`)
    .join("\n");

/** How one side ended, in a few words: "exit 0 in 12ms", "could not run: …". */
export function describeSide(exit: number | null, durationMs: number, error: string | undefined): string {
  if (error !== undefined) return `could not run (${error}) after ${formatMs(durationMs)}`;
  return `exit ${exit ?? "none"} in ${formatMs(durationMs)}`;
}

/** One comparison's heading line and its diff, indented. */
export function renderMismatch(c: ShadowComparisonRecord, palette: Palette): string[] {
  const where = [c.source, c.runId ? `run ${c.runId}` : "", c.target ? `target ${c.target}` : ""].filter(Boolean).join(" ");
  const lines = [
    `    #${c.id} ${when(iso(c.at))} ${where} · differs: ${c.differs.length > 0 ? c.differs.join(", ") : "-"}`,
    `      legacy ${describeSide(c.legacyExit, c.legacyDurationMs, c.legacyError)} · candidate ${describeSide(c.candidateExit, c.candidateDurationMs, c.candidateError)}`,
  ];
  if (c.diff) lines.push(palette.dim(indent(c.diff)));
  return lines;
}

/** The report for people: one paragraph per name, fallbacks and mismatches where the eye lands. */
export function renderShadowReport(entries: readonly ShadowReportEntry[], palette: Palette): string[] {
  const lines: string[] = [];
  for (const e of entries) {
    const rate = e.agreementRate === null ? "no agreement rate yet" : `${(Math.round(e.agreementRate * 1000) / 10).toString()}% agree`;
    const sources = [e.bySource.cli > 0 ? `cli ${e.bySource.cli}` : "", e.bySource.workflow > 0 ? `workflow ${e.bySource.workflow}` : ""].filter(Boolean).join(", ");
    lines.push(
      `${palette.bold(e.name)}: ${e.comparisons} comparison${e.comparisons === 1 ? "" : "s"}${sources ? ` (${sources})` : ""} · ${rate} · ${e.mismatched} mismatched · ` +
        `${e.candidateFailures} candidate failure${e.candidateFailures === 1 ? "" : "s"}` +
        `${e.legacyFailures > 0 ? ` · ${e.legacyFailures} where the legacy could not run` : ""} · last ${when(e.lastAt)}`,
    );
    if (e.fallenBack) {
      lines.push(palette.red(`  FALLEN BACK since ${when(e.fallenBackAt)}: ${e.fallbackReason ?? "no reason recorded"}`));
      lines.push(`  the legacy command runs in place of the compared step; opskit shadow reset ${e.name} returns to the workflow`);
    } else if (e.resetAt) {
      lines.push(`  reset ${when(e.resetAt)}: comparisons since then decide a fallback`);
    }
    if (e.latestMismatches.length > 0) {
      lines.push(`  latest mismatch${e.latestMismatches.length === 1 ? "" : "es"}:`);
      for (const c of e.latestMismatches) lines.push(...renderMismatch(c, palette));
    }
  }
  return lines;
}
