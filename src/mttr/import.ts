// Incident history from another tool's export (a pager's CSV or JSON) into
// the journal, so that MTTR reports cover the time before opskit. Every row is
// mapped and checked first; the journal is then written once, all or nothing.
import { stat } from "node:fs/promises";
import { extname } from "node:path";
import { configError, OpsError } from "../errors.ts";
import type { HistoryStore, ImportedIncident } from "../journal/index.ts";
import { foldName, mappedFields, presets, recognisedNames, type MappedField, type Preset } from "./columns.ts";
import { CsvReader, decodeRegularCsv } from "./csv.ts";
import { timestampReader } from "./timestamps.ts";

export interface ImportOptions {
  file: string;
  /** From the file's extension when absent. */
  format?: "csv" | "json";
  mapping: FieldMapping;
  /** The export's tool (`--source`); with each row's id it identifies the incident across re-imports. */
  origin: string;
  /**
   * IANA zone of timestamps written without an offset ("UTC" when empty). A
   * wall time the clocks skip (spring forward) makes its row invalid; one they
   * show twice (fall back) is read as its first, earlier occurrence.
   */
  timezone: string;
  /** "fail" (the default) imports nothing when any row is bad; "skip" imports the others and reports the bad ones. */
  onError: "fail" | "skip";
  /** The exporting tool whose columns and durations are known (columns.ts); explicit mappings win over it. */
  preset?: string;
}

/** Which column holds each field; a field left at its default name (see defaultMapping) may be absent from the file. */
export interface FieldMapping {
  id: string;
  title?: string;
  service?: string;
  severity?: string;
  started: string;
  detected?: string;
  acknowledged?: string;
  remediation_started?: string;
  resolved?: string;
  escalated?: string;
  /** Label name -> column. */
  labels: Record<string, string>;
}

export interface ImportReport {
  format: "csv" | "json";
  /** Data rows read (CSV lines that are only empty are not rows). */
  rows: number;
  inserted: number;
  updated: number;
  /** CSV: the physical line where the row starts (the header is line 1); JSON: the index in the array. */
  skipped: { line: number; reason: string }[];
  /** The column that fed each field found (`created_on + seconds_to_first_ack` for a duration after the start), and each label. */
  columns: Partial<Record<MappedField, string>>;
  labels: Record<string, string>;
}

export { mappedFields, type MappedField };

/** The mapping when none is given: each field from the column of its own name, matched case-insensitively. */
export const defaultMapping: FieldMapping = {
  id: "id", title: "title", service: "service", severity: "severity", started: "started",
  detected: "detected", acknowledged: "acknowledged", remediation_started: "remediation_started", resolved: "resolved", escalated: "escalated", labels: {},
};
const required: ReadonlySet<MappedField> = new Set(["id", "started"]);

type Key = string | number;
/** Where each field is in a row: an index into a CSV record, a property of a JSON item. */
interface Columns {
  fields: Partial<Record<MappedField, Key>>;
  names: Partial<Record<MappedField, string>>;
  labels: [name: string, key: Key][];
  labelNames: Record<string, string>;
  /** Milestones read as a duration after started, when their own cell is empty. */
  afterStart: [field: "acknowledged" | "resolved", key: Key, unitMs: number][];
}

const quoteAll = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(", ");

/**
 * Finds the columns in the header. A field mapped explicitly (--map, the
 * mapping file) is its column, matched exactly first, then ignoring case and
 * surrounding blanks; else the preset's first column the file has; else a
 * recognised name (columns.ts), whatever its case and separators. Two
 * recognised columns of one rank for a field are ambiguous: an error that
 * lists them and says how to choose.
 */
function resolveColumns(header: readonly string[], mapping: FieldMapping, file: string, keyOf: (index: number) => Key = (i) => i, preset?: Preset): Columns {
  const exact = new Map<string, number>();
  const folded = new Map<string, number>();
  const byName = new Map<string, number[]>();
  header.forEach((name, i) => {
    if (!exact.has(name)) exact.set(name, i);
    const fold = name.trim().toLowerCase();
    if (!folded.has(fold)) folded.set(fold, i);
    const bare = foldName(name);
    byName.set(bare, [...(byName.get(bare) ?? []), i]);
  });
  const find = (column: string) => exact.get(column) ?? folded.get(column.trim().toLowerCase());
  const loose = (column: string) => find(column) ?? byName.get(foldName(column))?.[0];
  const missing = (column: string, what: string) =>
    configError("E_IMPORT_COLUMN", `${file} has no column ${JSON.stringify(column)} (${what})`, `its columns are ${quoteAll(header)}; map ${what} to one of them (--map FIELD=COLUMN, --label NAME=COLUMN or the mapping file)`);
  const columns: Columns = { fields: {}, names: {}, labels: [], labelNames: {}, afterStart: [] };
  const taken = new Set<number>();
  // A column mapped to a label is not recognised as a field as well (Urgency kept as the label urgency only).
  const labelled = new Set(Object.values(mapping.labels).map(find).filter((i) => i !== undefined));
  /** The recognised column of a field: the one column of the first rank that has any. */
  const recognise = (field: MappedField): number | undefined => {
    for (const rank of recognisedNames[field]) {
      const found = [...new Set(rank.flatMap((name) => byName.get(foldName(name)) ?? []))].filter((i) => !taken.has(i) && !labelled.has(i));
      if (found.length === 1) return found[0];
      if (found.length > 1) {
        const names = found.map((i) => header[i]!);
        throw configError(
          "E_IMPORT_COLUMN",
          `${file}: field ${field} could come from ${names.length} columns: ${quoteAll(names)}`,
          `say which: --map ${field}=${JSON.stringify(names[0])} (or fields: { ${field}: ... } in the mapping file)`,
        );
      }
    }
    return undefined;
  };
  for (const field of mappedFields) {
    const column = mapping[field];
    const explicit = column !== undefined && column !== defaultMapping[field];
    let index: number | undefined;
    if (explicit) {
      index = find(column);
      if (index === undefined) throw missing(column, `field ${field}`);
    } else {
      // A preset that names a field's columns is trusted alone: Opsgenie's Acknowledged is a yes/no, not the time.
      const named = preset?.fields[field];
      index = named ? named.map(loose).find((i) => i !== undefined && !taken.has(i)) : recognise(field);
    }
    if (index === undefined) {
      const after = field === "acknowledged" || field === "resolved" ? preset?.afterStart?.[field] : undefined;
      const durationAt = after ? loose(after.column) : undefined;
      if (after && durationAt !== undefined) columns.afterStart.push([field as "acknowledged" | "resolved", keyOf(durationAt), after.unitMs]);
      if (required.has(field)) {
        const names = [...(preset?.fields[field] ?? []), ...recognisedNames[field].flat()];
        throw configError(
          "E_IMPORT_COLUMN",
          `${file} has no column for field ${field}, which is required`,
          `its columns are ${quoteAll(header)}; say which holds it: --map ${field}=COLUMN (or fields: in the mapping file); recognised names: ${names.join(", ")}`,
        );
      }
      continue;
    }
    taken.add(index);
    columns.fields[field] = keyOf(index);
    columns.names[field] = header[index]!;
  }
  for (const entry of columns.afterStart) columns.names[entry[0]] = `${columns.names.started} + ${header.find((_, i) => keyOf(i) === entry[1])}`;
  for (const [label, column] of Object.entries(mapping.labels)) {
    const index = find(column);
    if (index === undefined) throw missing(column, `label ${label}`);
    columns.labels.push([label, keyOf(index)]);
    columns.labelNames[label] = header[index]!;
  }
  for (const [label, candidates] of Object.entries(preset?.labels ?? {})) {
    if (label in mapping.labels) continue;
    const index = candidates.map(loose).find((i) => i !== undefined);
    if (index === undefined) continue;
    columns.labels.push([label, keyOf(index)]);
    columns.labelNames[label] = header[index]!;
  }
  return columns;
}

// ---------------------------------------------------------------------------
// Timestamps

type Cells = readonly string[] | Readonly<Record<string, unknown>>;
const valueAt = (cells: Cells, key: Key): unknown => (cells as Record<Key, unknown>)[key];

const cellText = (value: unknown): string | undefined => {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === "string" ? value.trim() : typeof value === "object" ? JSON.stringify(value) : String(value);
  return text === "" ? undefined : text;
};
const yes = new Set(["true", "yes", "y", "1", "escalated"]);
/** A count of escalations (PagerDuty's escalation_count): escalated when above 0. */
const countPattern = /^\d+$/;
const no = new Set(["false", "no", "n", "0"]);
const milestoneFields = ["detected", "acknowledged", "remediation_started", "resolved"] as const;
const milestoneKeys = { detected: "detected", acknowledged: "acknowledged", remediation_started: "remediationStarted", resolved: "resolved" } as const;

interface RowContext {
  columns: Columns;
  origin: string;
  readTime: (text: string) => number | string;
  /** The one copy of a repeated title or label value. */
  shared: (text: string) => string;
}

/**
 * Shares repeated strings (services, severities, teams, alert titles) among
 * rows: a million rows hold a few hundred distinct values, not a million
 * copies (measured: the rows of a 1,000,000-line export take 245 MB of heap
 * instead of 350 MB). Unique values stop being remembered after `limit`.
 */
function sharedStrings(limit = 50_000): (text: string) => string {
  const known = new Map<string, string>();
  return (text) => {
    const copy = known.get(text);
    if (copy !== undefined) return copy;
    if (known.size < limit) known.set(text, text);
    return text;
  };
}

/** A field's text in a row, when the file has its column and the cell is not blank. */
const fieldText = (cells: Cells, key: Key | undefined): string | undefined => (key === undefined ? undefined : cellText(valueAt(cells, key)));

/**
 * One row to an ImportedIncident, or every problem it has. Written for a
 * million calls: no closure or array is made for a row that has no problem.
 */
function mapRow(cells: Cells, { columns, origin, readTime, shared }: RowContext): ImportedIncident | string[] {
  let problems: string[] | undefined;
  const { fields, names } = columns;
  const externalId = fieldText(cells, fields.id);
  if (externalId === undefined) (problems ??= []).push(`missing id (column ${JSON.stringify(names.id)})`);
  const startedText = fieldText(cells, fields.started);
  let started: number | undefined;
  if (startedText !== undefined) {
    const at = readTime(startedText);
    if (typeof at === "string") (problems ??= []).push(`started: ${at}`);
    else started = at;
  }
  if (startedText === undefined) (problems ??= []).push(`missing started (column ${JSON.stringify(names.started)})`);
  // Without a title the id stands in, so that reports still name the incident.
  const incident: ImportedIncident = { origin, externalId: externalId!, title: shared(fieldText(cells, fields.title) ?? externalId!), labels: {}, started: started! };
  for (const field of milestoneFields) {
    const text = fieldText(cells, fields[field]);
    if (text === undefined) continue;
    const at = readTime(text);
    if (typeof at === "string") {
      (problems ??= []).push(`${field}: ${at}`);
      continue;
    }
    incident[milestoneKeys[field]] = at;
    if (started !== undefined && at < started) (problems ??= []).push(`${field} ${new Date(at).toISOString()} is before started ${new Date(started).toISOString()}`);
  }
  for (const [field, key, unitMs] of columns.afterStart) {
    const text = fieldText(cells, key);
    if (text === undefined || started === undefined) continue;
    const after = Number(text);
    if (!Number.isFinite(after) || after < 0) (problems ??= []).push(`${field}: ${JSON.stringify(text)} is not a duration after started`);
    else incident[milestoneKeys[field]] = started + Math.round(after * unitMs);
  }
  const escalated = fieldText(cells, fields.escalated)?.toLowerCase();
  if (escalated !== undefined) {
    if (yes.has(escalated) || (countPattern.test(escalated) && Number(escalated) > 0)) incident.escalated = true;
    else if (!no.has(escalated)) (problems ??= []).push(`escalated: ${JSON.stringify(escalated)} is not true/false, yes/no or 1/0`);
  }
  for (const [label, key] of columns.labels) {
    const value = cellText(valueAt(cells, key));
    if (value !== undefined) incident.labels[label] = shared(value);
  }
  const service = fieldText(cells, fields.service);
  if (service !== undefined) incident.labels.service = shared(service);
  const severity = fieldText(cells, fields.severity);
  if (severity !== undefined) incident.labels.severity = shared(severity);
  return problems ?? incident;
}

/** Whether id comes after last when ids are ordered by length, then by text: numbered ids ("999" before "1000") are. */
const follows = (id: string, last: string) => id.length > last.length || (id.length === last.length && id > last);

/**
 * The ids of a file's rows and where each was first seen. Exports are mostly
 * in id order, and an id that follows every one before it is new without a
 * look-up: it is appended to an ordered list (which a binary search reads),
 * and only ids out of order go into a Map. On a million ordered ids this is
 * about 15 ms, where a Map of them all took 0.5 s alone and more than a
 * second in the import (its growth slowed the collector on every row).
 */
function seenIds() {
  const ordered: string[] = [];
  const orderedLines: number[] = [];
  const others = new Map<string, number>();
  return {
    /** Where id was first seen, or undefined after recording it at line. */
    firstSeen(id: string, line: number): number | undefined {
      const count = ordered.length;
      if (count === 0 || follows(id, ordered[count - 1]!)) {
        ordered.push(id);
        orderedLines.push(line);
        return undefined;
      }
      // Ids out of order are below the last ordered one, so an id that follows it is in neither place.
      let low = 0;
      let high = count - 1;
      while (low <= high) {
        const middle = (low + high) >>> 1;
        const at = ordered[middle]!;
        if (at === id) return orderedLines[middle];
        if (follows(id, at)) low = middle + 1;
        else high = middle - 1;
      }
      const first = others.get(id);
      if (first === undefined) others.set(id, line);
      return first;
    },
  };
}

function presetOf(name: string): Preset {
  const preset = Object.hasOwn(presets, name) ? presets[name] : undefined;
  if (!preset) throw configError("E_IMPORT_PRESET", `unknown preset ${JSON.stringify(name)}`, `presets are ${Object.keys(presets).join(", ")}; without one, columns are recognised by name and --map FIELD=COLUMN names the others`);
  return preset;
}

const position = (format: ImportReport["format"], line: number) => (format === "csv" ? `line ${line}` : `item ${line}`);

/**
 * Maps and checks rows one at a time, and keeps the bad ones with where they
 * are; an id seen before makes a row bad. `row` gives the incident to write,
 * or nothing for a bad row, and nothing either after a bad row when onError
 * is "fail" (nothing will be written then). `finish` throws that failure.
 */
function rowCollector(options: ImportOptions, format: ImportReport["format"]) {
  const readTime = timestampReader(options.timezone || "UTC");
  const preset = options.preset === undefined ? undefined : presetOf(options.preset);
  const keepGoing = options.onError === "skip";
  const skipped: ImportReport["skipped"] = [];
  const seen = seenIds();
  let context: RowContext | undefined;
  let rows = 0;
  return {
    skipped,
    rows: () => rows,
    columns: () => ({ columns: { ...context?.columns.names }, labels: { ...context?.columns.labelNames } }),
    /** `streaming`: each row is written before the next is read, so repeated strings need no sharing. */
    header(names: readonly string[], keyOf?: (index: number) => Key, streaming = false) {
      const shared = streaming ? (text: string) => text : sharedStrings();
      context = { columns: resolveColumns(names, options.mapping, options.file, keyOf, preset), origin: options.origin, readTime, shared };
    },
    row(cells: Cells, line: number, problem?: string): ImportedIncident | undefined {
      rows++;
      let mapped = problem ? [problem] : mapRow(cells, context!);
      if (!Array.isArray(mapped)) {
        const first = seen.firstSeen(mapped.externalId, line);
        if (first === undefined) {
          return keepGoing || skipped.length === 0 ? mapped : undefined;
        }
        mapped = [`duplicate id ${JSON.stringify(mapped.externalId)} (first at ${position(format, first)})`];
      }
      skipped.push({ line, reason: mapped.join("; ") });
      return undefined;
    },
    finish() {
      if (skipped.length > 0 && !keepGoing) throw rowsError(options.file, format, rows, skipped);
    },
  };
}
type RowCollector = ReturnType<typeof rowCollector>;

// ---------------------------------------------------------------------------
// Files

const readError = (file: string, error: unknown) => {
  const reason = (error as { code?: string }).code === "ENOENT" ? "no such file" : (error as Error).message;
  return configError("E_IMPORT_READ", `cannot read ${file}: ${reason}`, "check the path and its permissions");
};

function lineBreaks(record: readonly string[]): number {
  let breaks = 0;
  for (const field of record) if (field.includes("\n") || field.includes("\r")) breaks += field.match(/\r\n|\r|\n/g)!.length;
  return breaks;
}

const isBlank = (record: readonly string[]) => record.length === 1 && record[0]!.trim() === "";
const widthProblem = (record: readonly string[], width: number) => (record.length === width ? undefined : `${record.length} fields where the header has ${width}`);
const noHeader = (file: string) => configError("E_IMPORT_COLUMN", `${file} is empty: there is no header row`, "export the incidents with a header row naming the columns");

/** The rows of a CSV file's text after its header, mapped and checked as they are read; the failure, if any, after the last. */
function* csvRows(reader: CsvReader, collector: RowCollector, width: number): Generator<ImportedIncident, void, undefined> {
  for (let record = reader.next(); record !== undefined; record = reader.next()) {
    if (isBlank(record)) continue;
    const incident = collector.row(record, reader.line, widthProblem(record, width));
    if (incident !== undefined) yield incident;
  }
  collector.finish();
}

/**
 * Reads a CSV file with a header row. Most files are read whole and split
 * (csv.ts, measured at about 0.4 s for a million rows where csv-parse took
 * 9 s) as the journal writes them: the rows come lazily, each row mapped
 * and checked just before it is written, so a million of them are never
 * held at once. A file with quotes only csv-parse reads or reports its own
 * way, or with bytes that are not UTF-8, is streamed through csv-parse into
 * a list, as before.
 */
async function readCsv(file: string, collector: RowCollector): Promise<Iterable<ImportedIncident>> {
  const bytes = await Bun.file(file).bytes().catch((error: unknown) => {
    throw readError(file, error);
  });
  const text = decodeRegularCsv(bytes);
  if (text !== undefined) {
    const reader = new CsvReader(text);
    let header = reader.next();
    while (header !== undefined && isBlank(header)) header = reader.next();
    if (header === undefined) throw noHeader(file);
    collector.header(header, undefined, true);
    return csvRows(reader, collector, header.length);
  }
  const incidents: ImportedIncident[] = [];
  let width = 0;
  await parseCsv(file, (record, line) => {
    if (isBlank(record)) return;
    if (width === 0) {
      width = record.length;
      collector.header(record);
      return;
    }
    const incident = collector.row(record, line, widthProblem(record, width));
    if (incident !== undefined) incidents.push(incident);
  });
  if (width === 0) throw noHeader(file);
  return incidents;
}

/**
 * Streams a CSV file through csv-parse. Records are handled inside the
 * parser's on_record, in file order, so the line count is exact when the
 * parser fails: each record starts on the line after the previous one ends,
 * plus the line breaks quoted inside its fields (csv-parse's own `lines`
 * counts a quoted CRLF twice). Empty lines are records of one empty field.
 */
async function parseCsv(file: string, onRecord: (record: string[], line: number) => void): Promise<void> {
  const [{ parse }, { createReadStream }, { pipeline }] = await Promise.all([import("csv-parse"), import("node:fs"), import("node:stream/promises")]);
  let line = 1;
  const parser = parse({
    bom: true,
    relax_column_count: true,
    // A quote inside an unquoted field (Disk 5" full) is kept as text, as spreadsheets write it.
    relax_quotes: true,
    record_delimiter: ["\r\n", "\n", "\r"],
    on_record: (record: string[]) => {
      const start = line;
      line += 1 + lineBreaks(record);
      onRecord(record, start);
      return null;
    },
  });
  parser.resume();
  try {
    await pipeline(createReadStream(file), parser);
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? "");
    if (/^E[A-Z]+$/.test(code)) throw readError(file, error);
    if (!code.startsWith("CSV_") && code !== "INVALID_OPENING_QUOTE") throw error;
    // csv-parse's line count is off after quoted CRLFs; ours is not.
    const message = (error as Error).message.replace(/ at line \d+/, "");
    throw configError("E_IMPORT_CSV", `${file}:${line}: the CSV record starting here cannot be read: ${message}`, "check its quotes: a quoted field ends with a quote, and a quote inside one is doubled");
  }
}

const isItem = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/** A JSON array of objects, or { "incidents": [...] }; the columns are every key any item has. */
async function readJson(file: string, collector: RowCollector): Promise<ImportedIncident[]> {
  let value: unknown;
  try {
    value = JSON.parse(await Bun.file(file).text());
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw readError(file, error);
    throw configError("E_IMPORT_JSON", `${file} is not valid JSON: ${error.message}`, "export the incidents as a JSON array of objects");
  }
  const items = Array.isArray(value) ? value : isItem(value) && Array.isArray(value.incidents) ? value.incidents : undefined;
  if (!items) throw configError("E_IMPORT_JSON", `${file} holds no list of incidents`, 'the file must be a JSON array of objects, or an object with an "incidents" array');
  const keys = new Set<string>();
  for (const item of items) if (isItem(item)) for (const key in item) keys.add(key);
  const header = [...keys];
  collector.header(header, (index) => header[index]!);
  const incidents: ImportedIncident[] = [];
  for (let index = 0; index < items.length; index++) {
    const item: unknown = items[index];
    const incident = collector.row(isItem(item) ? item : {}, index, isItem(item) ? undefined : `expected an object, got ${JSON.stringify(item)?.slice(0, 40)}`);
    if (incident !== undefined) incidents.push(incident);
    // Each parsed item is garbage once mapped; a million of them need not outlive the loop.
    items[index] = undefined;
  }
  return incidents;
}

function importFormat(file: string, given: string | undefined): ImportReport["format"] {
  const format = given ?? { ".csv": "csv", ".json": "json" }[extname(file).toLowerCase()];
  if (format === "csv" || format === "json") return format;
  const hint = "pass --format csv or --format json (or format: in the mapping file)";
  throw configError("E_IMPORT_FORMAT", given ? `unknown format ${JSON.stringify(given)} for ${file}` : `cannot tell the format of ${file} from its extension`, hint);
}

function rowsError(file: string, format: ImportReport["format"], rows: number, skipped: ImportReport["skipped"]): OpsError {
  const shown = skipped.slice(0, 20).map((s) => `  ${position(format, s.line)}: ${s.reason}`);
  if (skipped.length > 20) shown.push(`  … and ${skipped.length - 20} more`);
  return new OpsError({
    code: "E_IMPORT_ROWS",
    message: `${file}: ${skipped.length} of ${rows} rows are invalid, nothing was imported:\n${shown.join("\n")}`,
    hint: "fix these rows, or pass --on-error skip to import the others and list these; timestamps are ISO 8601 (2026-03-29T02:30:00Z), local times (2026-03-29 02:30:00, in --timezone) or epoch seconds or ms",
    exitCode: 65,
  });
}

/**
 * Reads, maps and checks every row, and writes them with one call (one
 * transaction): with onError "fail" a single bad row imports nothing. A CSV
 * file's rows are checked as the journal writes them, and the failure comes
 * after the last row, inside the transaction, which it rolls back.
 */
export async function importIncidents(journal: HistoryStore, options: ImportOptions): Promise<ImportReport> {
  const { file } = options;
  const format = importFormat(file, options.format);
  const collector = rowCollector(options, format);
  const info = await stat(file).catch((error: unknown) => {
    throw readError(file, error);
  });
  if (!info.isFile()) throw readError(file, new Error("not a file"));
  const rows = await (format === "csv" ? readCsv : readJson)(file, collector);
  // A list is read whole: its failure comes before the journal is touched.
  if (Array.isArray(rows)) collector.finish();
  const { inserted, updated } = await journal.importIncidents(rows);
  return { format, rows: collector.rows(), inserted, updated, skipped: collector.skipped, ...collector.columns() };
}

/**
 * Reads a mapping file (YAML): format, timezone, origin, on_error, fields
 * (field -> column) and labels (label -> column). Fields it leaves out keep
 * their default columns.
 */
export async function readMapping(path: string): Promise<Partial<ImportOptions> & { mapping: FieldMapping }> {
  const [{ z }, { loadYamlFile }] = await Promise.all([import("zod"), import("../schema/index.ts")]);
  const column = z.string().min(1).optional();
  const knownZone = (zone: string) => {
    try {
      return zone === "UTC" || Boolean(new Intl.DateTimeFormat("en-US", { timeZone: zone }));
    } catch {
      return false;
    }
  };
  const schema = z.strictObject({
    format: z.enum(["csv", "json"]).optional(),
    timezone: z.string().refine(knownZone, "not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)").optional(),
    origin: z.string().min(1).optional(),
    on_error: z.enum(["fail", "skip"]).optional(),
    fields: z.strictObject({ id: column, title: column, service: column, severity: column, started: column, detected: column, acknowledged: column, remediation_started: column, resolved: column, escalated: column }).optional(),
    labels: z.record(z.string().min(1), z.string().min(1)).optional(),
  });
  const { value } = await loadYamlFile(path, schema);
  const fields = Object.fromEntries(Object.entries(value.fields ?? {}).filter(([, c]) => c !== undefined)) as Partial<FieldMapping>;
  return {
    ...(value.format ? { format: value.format } : {}),
    ...(value.timezone ? { timezone: value.timezone } : {}),
    ...(value.origin ? { origin: value.origin } : {}),
    ...(value.on_error ? { onError: value.on_error } : {}),
    mapping: { ...defaultMapping, ...fields, labels: value.labels ?? {} },
  };
}
