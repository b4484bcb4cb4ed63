// CSV records from a whole file's text, fast: the importer's common case.
// It reads what csv-parse reads with the importer's options (a BOM, records
// ended by CRLF, LF or CR, quoted fields with doubled quotes and line breaks
// inside, a quote inside an unquoted field kept as text, any number of
// fields) to the same records and the same line numbers. What only csv-parse knows how to read or how to
// report (text after a closing quote, a quote never closed, bytes that are
// not UTF-8) makes it give up before the first record: the caller then reads
// the file with csv-parse, so such files read exactly as before.

import { isAscii } from "node:buffer";

const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;

/**
 * The file's text when it is UTF-8 and every quote in it is one this reader
 * reads as csv-parse would; undefined otherwise.
 */
export function decodeRegularCsv(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    // fatal: csv-parse decodes bad bytes its own way, so those files are left to it.
    text = new TextDecoder("utf-8", { fatal: !isAscii(bytes) }).decode(bytes);
  } catch {
    return undefined;
  }
  return regularQuotes(text) ? text : undefined;
}

/**
 * Whether every quoted field closes, and closes right before a comma, a line
 * break or the end. Jumps from quote to quote (indexOf): a quote that does
 * not open a field is text inside an unquoted one.
 */
function regularQuotes(text: string): boolean {
  let quote = text.indexOf('"');
  while (quote >= 0) {
    const before = quote === 0 ? COMMA : text.charCodeAt(quote - 1);
    if (before !== COMMA && before !== CR && before !== LF) {
      quote = text.indexOf('"', quote + 1);
      continue;
    }
    let from = quote + 1;
    for (;;) {
      const close = text.indexOf('"', from);
      if (close < 0) return false;
      if (text.charCodeAt(close + 1) === QUOTE) {
        from = close + 2;
        continue;
      }
      const after = close + 1 < text.length ? text.charCodeAt(close + 1) : COMMA;
      if (after !== COMMA && after !== CR && after !== LF) return false;
      quote = text.indexOf('"', close + 1);
      break;
    }
  }
  return true;
}

/**
 * The records of text (which decodeRegularCsv returned), one at a time, so
 * that an import can write each row as it is read instead of holding them
 * all. A line without a quote is split at its commas (String#split); a
 * record with a quote is read character by character. Empty lines are
 * records of one empty field, as csv-parse gives them.
 */
export class CsvReader {
  /** The physical line where the record next() returned last starts (the first line is 1). */
  line = 0;
  private at = 0;
  private nextLine = 1;
  // The next LF, CR and quote at or after `at` (the text's length when none is left).
  private lf = -1;
  private cr = -1;
  private quote = -1;

  constructor(private readonly text: string) {}

  private nextOf(char: string, known: number): number {
    if (known >= this.at) return known;
    const found = this.text.indexOf(char, this.at);
    return found < 0 ? this.text.length : found;
  }

  /** The next record, or undefined after the last. */
  next(): string[] | undefined {
    const { text } = this;
    const i = this.at;
    if (i >= text.length) return undefined;
    this.line = this.nextLine;
    this.lf = this.nextOf("\n", this.lf);
    this.cr = this.nextOf("\r", this.cr);
    this.quote = this.nextOf('"', this.quote);
    const lineEnd = this.lf < this.cr ? this.lf : this.cr;
    if (this.quote > lineEnd) {
      this.nextLine++;
      this.at = lineEnd + (text.charCodeAt(lineEnd) === CR && text.charCodeAt(lineEnd + 1) === LF ? 2 : 1);
      return text.slice(i, lineEnd).split(",");
    }
    const record: string[] = [];
    [this.at, this.nextLine] = quotedRecord(text, i, this.nextLine, record);
    return record;
  }
}

/** One record with quotes in it, from i: where the next record starts, and its line. */
function quotedRecord(text: string, i: number, line: number, record: string[]): [number, number] {
  const end = text.length;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      let from = i + 1;
      let value = "";
      for (;;) {
        // regularQuotes saw this field close before a comma, a line break or the end.
        const close = text.indexOf('"', from);
        line += breaks(text, from, close);
        value += text.slice(from, close);
        if (text.charCodeAt(close + 1) !== QUOTE) {
          i = close + 1;
          break;
        }
        value += '"';
        from = close + 2;
      }
      record.push(value);
    } else {
      let j = i;
      for (; j < end; j++) {
        const c = text.charCodeAt(j);
        if (c === COMMA || c === CR || c === LF) break;
      }
      record.push(text.slice(i, j));
      i = j;
    }
    if (i >= end) return [i, line];
    const c = text.charCodeAt(i);
    if (c === COMMA) {
      i++;
      // A comma that ends the text still opens one last, empty field.
      if (i === end) record.push("");
      if (i === end) return [i, line];
      continue;
    }
    // CRLF, LF or CR ends the record.
    return [i + (c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1), line + 1];
  }
}

/** Line breaks (CRLF, LF or a lone CR, one each) in text[from, to). */
function breaks(text: string, from: number, to: number): number {
  let n = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === LF) n++;
    else if (c === CR) {
      n++;
      if (text.charCodeAt(k + 1) === LF && k + 1 < to) k++;
    }
  }
  return n;
}
