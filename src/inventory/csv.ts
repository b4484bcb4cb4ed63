import { configError } from "../errors.ts";
import type { HostRecord, InventorySource } from "./types.ts";

/** Columns that are host fields; every other column is a label named by its header. */
const FIELDS = new Set(["name", "address", "port", "user", "groups"]);

const hint = "the first row names the columns: name (required), address, port, user, groups (separated by spaces or ;), and any other column becomes a label";

/**
 * A CSV export (a CMDB, a spreadsheet): a header row, then one host a row.
 * Cells are trimmed; an empty cell leaves its field or label unset; lines
 * starting with # are comments. RFC 4180 quoting, by csv-parse.
 */
export const csvSource: InventorySource = {
  kind: "csv",
  schema: ({ z }) => z.string().describe(`a CSV file with a header row: ${hint}`),
  async load(text, { display }) {
    const { parse } = await import("csv-parse/sync");
    /** With `info`, csv-parse gives each row with the line it ends on. */
    let rows: { record: string[]; info: { lines: number } }[];
    try {
      // A # starts a comment only at the start of a line: `web-1,#blue` is a host with a label.
      rows = parse(text, { bom: true, comment: "#", comment_no_infix: true, skip_empty_lines: true, trim: true, info: true, relax_column_count: true }) as unknown as typeof rows;
    } catch (error) {
      const { message, lines } = error as Error & { lines?: number };
      throw configError("E_INVENTORY_CSV", `${display}${lines ? `:${lines}` : ""}: cannot read the CSV: ${message}`, "check the quotes: a quoted cell ends with a quote, and a quote inside one is written twice");
    }
    const [header, ...hosts] = rows;
    if (!header) return [];
    const columns = header.record;
    const at = (line: number) => `${display}:${line}`;
    const duplicate = columns.find((column, i) => columns.indexOf(column) !== i);
    if (!columns.includes("name") || duplicate !== undefined || columns.includes("")) {
      const why = !columns.includes("name") ? "has no name column" : duplicate !== undefined ? `names the column "${duplicate}" twice` : "has a column without a name";
      throw configError("E_INVENTORY_CSV", `${at(header.info.lines)}: the header row ${why}`, hint);
    }
    return hosts.map(({ record, info }) => {
      if (record.length !== columns.length) {
        throw configError("E_INVENTORY_CSV", `${at(info.lines)}: ${record.length} cells, and the header names ${columns.length} columns`, "give every row one cell per column (an empty cell for nothing)");
      }
      return hostOf(Object.fromEntries(columns.map((column, i) => [column, record[i]!])), at(info.lines));
    });
  },
};

function hostOf(row: Record<string, string>, where: string): HostRecord {
  const name = row.name!;
  if (!name) throw configError("E_INVENTORY_CSV", `${where}: the name cell is empty`, "give every host a name");
  const port = row.port ? Number(row.port) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw configError("E_INVENTORY_CSV", `${where}: port "${row.port}" is not a port`, "use a port from 1 to 65535, or leave the cell empty for the default");
  }
  const labels = Object.fromEntries(Object.entries(row).filter(([column, value]) => !FIELDS.has(column) && value !== ""));
  return {
    name,
    ...(row.address ? { address: row.address } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(row.user ? { user: row.user } : {}),
    labels,
    vars: {},
    groups: (row.groups ?? "").split(/[\s;]+/).filter(Boolean),
    source: where,
  };
}
