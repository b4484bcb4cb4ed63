// The text filter of incident pages (BrowseStore.queryIncidents), the same on
// both journals: ASCII letters match in either case (SQLite's lower() and
// LIKE know no other), every other character matches exactly.

/** ASCII upper case to lower case, nothing else: what SQLite's lower() does, and what PostgreSQL's translate() is told to do. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

export const ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz";

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
