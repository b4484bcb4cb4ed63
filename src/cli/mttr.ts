import { existsSync } from "node:fs";
import { ExitCode, usageError } from "../errors.ts";
import { isPostgresUrl, openJournal } from "../journal/index.ts";
import { commandJournal } from "./journal-options.ts";
import type { mttrSpec } from "./mttr-spec.ts";
import type { OptionsOf } from "./options.ts";

/** `opskit mttr`: statistics from the journal, rendered for a terminal, a tool, a wiki or a browser. */
export async function mttrCommand(_args: string[], options: OptionsOf<typeof mttrSpec>): Promise<number> {
  const { format, output } = options;
  const location = await commandJournal(options);
  if (!isPostgresUrl(location) && !existsSync(location)) {
    throw usageError("E_NO_JOURNAL", `no journal at ${location}`, "run opskit serve first, import history with opskit incidents import FILE, or pass --journal PATH");
  }
  const { computeMttr } = await import("../mttr/index.ts");
  const journal = await openJournal(location);
  let text: string;
  try {
    const report = await computeMttr(journal, { since: options.since, until: options.until, by: options.by, compare: options.compare });
    const render = await import("../mttr/index.ts");
    text = format === "json" ? `${JSON.stringify(report, null, 2)}\n` : format === "markdown" ? render.renderMarkdown(report) : format === "html" ? render.renderHtml(report) : render.renderTable(report);
  } finally {
    await journal.close();
  }
  if (output !== undefined) {
    await Bun.write(output, text);
    console.error(`opskit mttr: wrote ${output}`);
  } else {
    // main exits the process as soon as the command returns: a pipe must have taken every byte first (a report past 64 kB was cut short).
    await Bun.write(Bun.stdout, text);
  }
  return ExitCode.ok;
}
