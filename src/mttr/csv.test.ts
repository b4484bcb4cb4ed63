import { describe, expect, test } from "bun:test";
import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { CsvReader, decodeRegularCsv } from "./csv.ts";

// The oracle is csv-parse itself, with the options the importer gives it,
// and the importer's own line count (a record starts on the line after the
// previous one ends, plus the line breaks quoted inside it).
const options = { bom: true, relax_column_count: true, relax_quotes: true, record_delimiter: ["\r\n", "\n", "\r"] };

function oracle(bytes: Uint8Array): [string[], number][] {
  let line = 1;
  return (parse(Buffer.from(bytes), options) as string[][]).map((record) => {
    const start = line;
    line += 1 + record.reduce((n, field) => n + (field.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
    return [record, start];
  });
}

function fast(bytes: Uint8Array): [string[], number][] | undefined {
  const text = decodeRegularCsv(bytes);
  if (text === undefined) return undefined;
  const records: [string[], number][] = [];
  const reader = new CsvReader(text);
  for (let record = reader.next(); record !== undefined; record = reader.next()) records.push([record, reader.line]);
  return records;
}

const encode = (text: string) => new TextEncoder().encode(text);

describe("CSV", () => {
  test("every file it reads gives csv-parse's records on csv-parse's lines", () => {
    let read = 0;
    const piece = fc.constantFrom("a", "bc", '"', '""', ",", "\n", "\r", "\r\n", " ", "é", "\u{1F600}", '"x,y"', '"q""q"', '"l\r\nm"');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.boolean(), (pieces, bom) => {
        const bytes = encode(`${bom ? "\uFEFF" : ""}${pieces.join("")}`);
        const records = fast(bytes);
        if (records === undefined) return;
        read++;
        expect(records).toEqual(oracle(bytes));
      }),
      { numRuns: 3000 },
    );
    // Most generated files are ones it reads itself: the comparison above is not empty.
    expect(read).toBeGreaterThan(1000);
  });

  test("quotes csv-parse reads or reports its own way, and bytes that are not UTF-8, are left to it", () => {
    for (const text of ['id,title\n1,"a"b\n', 'id,title\n1,"never closed\n', '"a" ,b\n']) expect(decodeRegularCsv(encode(text))).toBeUndefined();
    expect(decodeRegularCsv(Uint8Array.from([0x69, 0x64, 0x0a, 0xff, 0x0a]))).toBeUndefined();
    expect(fast(encode('id,title\r\n7,Disk 5" full\r\n\r\n8,"two\nlines"'))).toEqual([[["id", "title"], 1], [["7", 'Disk 5" full'], 2], [[""], 3], [["8", "two\nlines"], 4]]);
  });
});
