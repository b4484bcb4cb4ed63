import { basename, extname } from "node:path";
import { ExitCode, usageError } from "../errors.ts";
import { defaultMapping, importIncidents, mappedFields, readMapping, type FieldMapping, type ImportOptions, type ImportReport, type MappedField } from "../mttr/index.ts";
import { openJournal } from "../journal/index.ts";
import { commandJournal } from "./journal-options.ts";
import { LineWriter } from "../ui/index.ts";
import type { incidentsSpec } from "./incidents-spec.ts";
import type { OptionsOf } from "./options.ts";

/** The skipped rows printed before the summary; --json has them all. */
const shownSkipped = 100;

type ImportCliOptions = OptionsOf<typeof incidentsSpec>;

/** `NAME=COLUMN` pairs from a repeated option; the column may hold spaces and `=`. */
function pairs(values: string[], option: string, example: string): [string, string][] {
  return values.map((value) => {
    const eq = value.indexOf("=");
    if (eq <= 0 || eq === value.length - 1) throw usageError("E_USAGE_IMPORT", `--${option} ${JSON.stringify(value)}: expected NAME=COLUMN`, `e.g. --${option} ${example}`);
    return [value.slice(0, eq).trim(), value.slice(eq + 1)];
  });
}

function fieldMaps(values: string[]): Partial<FieldMapping> {
  const known = new Set<string>(mappedFields);
  const mapped: Partial<Record<MappedField, string>> = {};
  for (const [field, column] of pairs(values, "map", 'id="Incident Number"')) {
    if (!known.has(field)) throw usageError("E_USAGE_IMPORT", `--map ${field}=…: unknown field "${field}"`, `fields are ${mappedFields.join(", ")}; other columns become labels with --label NAME=COLUMN`);
    mapped[field as MappedField] = column;
  }
  return mapped;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], option: string): T | undefined {
  if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
  throw usageError("E_USAGE_IMPORT", `--${option} ${JSON.stringify(value)}: expected ${allowed.join(" or ")}`);
}

/** Flags win over the mapping file, which wins over the defaults; --source defaults to the file's name. */
async function importOptions(file: string, options: ImportCliOptions): Promise<ImportOptions> {
  const format = oneOf(options.format, ["csv", "json"] as const, "format");
  const onError = oneOf(options.onError, ["fail", "skip"] as const, "on-error");
  const fromFile = options.mapping !== undefined ? await readMapping(options.mapping) : undefined;
  const labels = Object.fromEntries(pairs(options.label, "label", "team=Team"));
  return {
    file,
    format: format ?? fromFile?.format,
    mapping: { ...defaultMapping, ...fromFile?.mapping, ...fieldMaps(options.map), labels: { ...fromFile?.mapping.labels, ...labels } },
    origin: options.source ?? fromFile?.origin ?? basename(file, extname(file)),
    timezone: options.timezone ?? fromFile?.timezone ?? "UTC",
    onError: onError ?? fromFile?.onError ?? "fail",
    ...(options.preset !== undefined ? { preset: options.preset } : {}),
  };
}

function printReport(report: ImportReport, file: string, out: LineWriter): void {
  const where = report.format === "csv" ? "line" : "item";
  // Which column fed each field, so a recognised or preset column is never a guess the reader cannot see.
  out.line("columns:");
  for (const [field, column] of Object.entries(report.columns)) out.line(`  ${field.padEnd(20)} ${column}`);
  for (const [label, column] of Object.entries(report.labels)) out.line(`  ${`label ${label}`.padEnd(20)} ${column}`);
  if (report.skipped.length > 0) out.line("skipped:");
  for (const row of report.skipped.slice(0, shownSkipped)) out.line(`  ${where} ${row.line}: ${row.reason}`);
  if (report.skipped.length > shownSkipped) out.line(`  … and ${report.skipped.length - shownSkipped} more (--json lists them all)`);
  const skipped = `${report.skipped.length} ${report.skipped.length === 1 ? "row" : "rows"} skipped`;
  out.line(`imported ${report.inserted + report.updated} ${report.inserted + report.updated === 1 ? "incident" : "incidents"} from ${file} (${report.inserted} new, ${report.updated} updated, ${skipped})`);
}

/** `opskit incidents import FILE`: works on the journal file itself, with or without a server running. */
export async function incidentsImportCommand(args: string[], options: ImportCliOptions): Promise<number> {
  const [file, ...extra] = args;
  if (!file || extra.length > 0) {
    throw usageError("E_USAGE_IMPORT", file ? `incidents import takes one file, got ${args.length}` : "incidents import needs a file", 'e.g. opskit incidents import pagerduty.csv --map id="Incident Number" --map started="Created On"');
  }
  const importing = await importOptions(file, options);
  const journal = await openJournal(await commandJournal(options));
  let report: ImportReport;
  try {
    report = await importIncidents(journal, importing);
  } finally {
    await journal.close();
  }
  const out = new LineWriter();
  if (options.json) out.line(JSON.stringify(report));
  else printReport(report, file, out);
  out.flush();
  return ExitCode.ok;
}
