// The text filter of incident pages (BrowseStore.queryIncidents), the same on
// both journals: ASCII letters match in either case (SQLite's lower() and
// LIKE know no other), every other character matches exactly.

/** ASCII upper case to lower case, nothing else: what SQLite's LIKE and PostgreSQL's lower() under the C collation fold. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/**
 * Whether a search for `needle` in the labels' JSON text (one index-free
 * scan of a column) finds exactly the incidents with a label name or value
 * containing it. The labels are stored as JSON.stringify writes them: a
 * name or value is its own characters between quotes, except the ones JSON
 * escapes (quote, backslash, control characters, lone surrogates). So a
 * needle without any of those matches inside one name or value, unless it
 * is made only of the characters JSON puts between strings ({ } : ,), which
 * sit next to quotes and would match the structure itself. Other needles
 * take the slower path: each label read as a key and a value.
 */
export function searchableAsJsonText(needle: string): boolean {
  if (/^[{}:,]*$/.test(needle)) return false;
  // eslint-disable-next-line no-control-regex
  return !/["\\\u0000-\u001f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(needle);
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The needle as it reads inside the labels' JSON text (its characters
 * escaped as JSON.stringify escapes them): every label name or value that
 * contains the needle has this in its JSON text, so it is a cheap first
 * test before each label is read. Undefined for a needle with a lone
 * surrogate, which is escaped alone but not within a pair.
 */
export function asJsonText(needle: string): string | undefined {
  return loneSurrogate.test(needle) ? undefined : JSON.stringify(needle).slice(1, -1);
}

/** A LIKE pattern (ESCAPE '\\') for text containing `needle` anywhere. */
export function containsPattern(needle: string): string {
  return `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
