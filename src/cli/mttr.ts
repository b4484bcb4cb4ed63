import { existsSync } from "node:fs";
import { ExitCode, usageError } from "../errors.ts";
import { journalLocation, openJournal } from "../journal/index.ts";
import type { ParsedOptions } from "./options.ts";

const formats = ["table", "json", "markdown", "html"] as const;

/** `opskit mttr`: statistics from the journal, rendered for a terminal, a tool, a wiki or a browser. */
export async function mttrCommand(_args: string[], options: ParsedOptions): Promise<number> {
  const format = String(options.format ?? "table");
  if (!(formats as readonly string[]).includes(format)) throw usageError("E_USAGE_FORMAT", `--format "${format}" is not one of ${formats.join(", ")}`, "e.g. --format html -o mttr.html");
  const location = journalLocation(typeof options.journal === "string" ? options.journal : undefined);
  if (!existsSync(location)) {
    throw usageError("E_NO_JOURNAL", `no journal at ${location}`, "run opskit serve first, import history with opskit incidents import FILE, or pass --journal PATH");
  }
  const { computeMttr } = await import("../incidents/index.ts");
  const journal = await openJournal(location);
  let text: string;
  try {
    const report = computeMttr(journal, {
      ...(typeof options.since === "string" ? { since: options.since } : {}),
      ...(typeof options.until === "string" ? { until: options.until } : {}),
      ...(typeof options.by === "string" ? { by: options.by } : {}),
      ...(typeof options.compare === "string" ? { compare: options.compare } : {}),
    });
    const render = await import("../incidents/index.ts");
    text = format === "json" ? `${JSON.stringify(report, null, 2)}\n` : format === "markdown" ? render.renderMarkdown(report) : format === "html" ? render.renderHtml(report) : render.renderTable(report);
  } finally {
    journal.close();
  }
  if (typeof options.output === "string") {
    await Bun.write(options.output, text);
    console.error(`opskit mttr: wrote ${options.output}`);
  } else {
    process.stdout.write(text);
  }
  return ExitCode.ok;
}
