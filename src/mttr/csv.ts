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

/** One record, and the physical line it starts on (the first line is 1). */
export type OnRecord = (record: string[], line: number) => void;

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
 * Calls onRecord for every record of text (which decodeRegularCsv
 * returned). A line without a quote is split at its commas (String#split);
 * a record with a quote is read character by character. Empty lines are
 * records of one empty field, as csv-parse gives them.
 */
export function readCsvText(text: string, onRecord: OnRecord): void {
  const end = text.length;
  // The next of each character at or after the current position (end when none is left).
  const next = new Map<string, number>();
  const nextOf = (char: string, from: number) => {
    let at = next.get(char) ?? -1;
    if (at < from) {
      const found = text.indexOf(char, from);
      at = found < 0 ? end : found;
      next.set(char, at);
    }
    return at;
  };
  let i = 0;
  let line = 1;
  while (i < end) {
    const lineEnd = Math.min(nextOf("\n", i), nextOf("\r", i));
    if (nextOf('"', i) > lineEnd) {
      onRecord(text.slice(i, lineEnd).split(","), line++);
      i = lineEnd + (text.charCodeAt(lineEnd) === CR && text.charCodeAt(lineEnd + 1) === LF ? 2 : 1);
      continue;
    }
    const start = line;
    const record: string[] = [];
    [i, line] = quotedRecord(text, i, line, record);
    onRecord(record, start);
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
