// The summary table printed at the end of a run, and the generated sections of
// bench/RESULTS.md: one per suite, each between its two markers; the
// hand-written text around them stays.
import type { Machine } from "./machine.ts";

export interface BenchResult {
  name: string;
  title: string;
  /** opskit's headline figure. */
  opskit: string;
  /** The anchor's headline figure, naming the anchor. */
  anchor: string;
  /** opskit against the anchor or goal, e.g. "1.12x curl's median". */
  ratio: string;
  goal: string;
  /** undefined where no goal is set: the figure is reported only. */
  met: boolean | undefined;
  /** Markdown bullets: every figure measured, and how it was checked. */
  details: string[];
}

/** Benchmarks whose results make one generated section of RESULTS.md. */
export interface Suite {
  name: string;
  benchmarks: string[];
  heading: string;
  /** Which of the machine's tool versions the section lists. */
  tools: string[];
}

const markers = (suite: string) => ({
  begin: `<!-- BEGIN GENERATED ${suite} by bench/run.sh: edits up to END GENERATED ${suite} are overwritten -->`,
  end: `<!-- END GENERATED ${suite} -->`,
});

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)];
}

export function summaryTable(results: BenchResult[]): string[] {
  return table(
    ["benchmark", "opskit", "anchor", "ratio", "goal", "met"],
    results.map((r) => [r.title, r.opskit, r.anchor, r.ratio, r.goal, r.met === undefined ? "-" : r.met ? "yes" : "NO"]),
  );
}

export function machineLines(machine: Machine, tools = Object.keys(machine.tools)): string[] {
  return [
    `- date: ${machine.date}`,
    `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB RAM, Linux ${machine.kernel}, ${machine.os}`,
    `- load average when the run started: ${machine.loadAverage}`,
    `- tools: ${tools.map((name) => `${name}: \`${machine.tools[name]}\``).join("; ")}`,
  ];
}

export function generatedSection(suite: Suite, machine: Machine, results: BenchResult[]): string {
  const lines = [`## ${suite.heading}`, "", ...machineLines(machine, suite.tools), "", ...summaryTable(results)];
  for (const result of results) lines.push("", `### ${result.title}`, "", ...result.details);
  return lines.join("\n");
}

/**
 * Replaces the suite's generated section of `file`, keeping the text before
 * and after it; a section not there yet is added at the end.
 */
export async function rewriteResults(file: string, suite: string, section: string): Promise<void> {
  const { begin, end } = markers(suite);
  const existing = (await Bun.file(file).exists()) ? await Bun.file(file).text() : "# opskit benchmarks\n";
  const from = existing.indexOf(begin);
  const to = existing.indexOf(end, Math.max(from, 0));
  const before = (from >= 0 ? existing.slice(0, from) : existing).trimEnd();
  const after = from >= 0 && to >= 0 ? existing.slice(to + end.length).trim() : "";
  await Bun.write(file, `${before}\n\n${begin}\n\n${section}\n\n${end}\n${after ? `\n${after}\n` : ""}`);
}
