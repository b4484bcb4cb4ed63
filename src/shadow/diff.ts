/**
 * A line diff (Myers' O(ND) algorithm, "An O(ND) Difference Algorithm and Its
 * Variations", 1986) and its unified form, as `diff -u` prints it. Common
 * leading and trailing lines are trimmed first; past `maxEdits` differences
 * the middle is reported as one replaced block instead, so a diff of two
 * unrelated large outputs stays cheap in time and memory.
 */

export interface LineEdit {
  op: " " | "-" | "+";
  line: string;
}

const MAX_EDITS = 2000;

/** The shortest edit script from `a` to `b`, or undefined past `maxEdits`. */
function myers(a: readonly string[], b: readonly string[], maxEdits: number): LineEdit[] | undefined {
  const n = a.length;
  const m = b.length;
  const limit = Math.min(n + m, maxEdits);
  const offset = limit + 1;
  const v = new Int32Array(2 * limit + 3);
  // trace[d] holds the furthest x on each diagonal k in [-d, d] after d edits.
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= limit && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) found = d;
    }
    trace.push(v.slice(offset - d, offset + d + 1));
  }
  if (found < 0) return undefined;

  const edits: LineEdit[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const previous = trace[d - 1]!;
    const at = (k: number) => previous[k + d - 1]!;
    const k = x - y;
    const fromK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const fromX = at(fromK);
    const fromY = fromX - fromK;
    while (x > fromX && y > fromY) {
      edits.push({ op: " ", line: a[--x]! });
      y--;
    }
    if (x === fromX) edits.push({ op: "+", line: b[--y]! });
    else edits.push({ op: "-", line: a[--x]! });
  }
  while (x > 0) edits.push({ op: " ", line: a[--x]! });
  return edits.reverse();
}

/** The edit script from `a` to `b`: unchanged, removed and added lines in order. */
export function diffLines(a: readonly string[], b: readonly string[], maxEdits = MAX_EDITS): LineEdit[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const middleA = a.slice(head, a.length - tail);
  const middleB = b.slice(head, b.length - tail);
  const middle = myers(middleA, middleB, maxEdits) ?? [...middleA.map((line) => ({ op: "-" as const, line })), ...middleB.map((line) => ({ op: "+" as const, line }))];
  return [...a.slice(0, head).map((line) => ({ op: " " as const, line })), ...middle, ...a.slice(a.length - tail).map((line) => ({ op: " " as const, line }))];
}

export interface UnifiedDiffOptions {
  labels?: [string, string];
  /** Unchanged lines shown around each change (default 3). */
  context?: number;
  /** Lines of diff kept; the rest is counted in a last line (default 200). */
  maxLines?: number;
}

/** `a` and `b` as a unified diff (headers, @@ hunks); empty when they are equal. */
export function unifiedDiff(a: string, b: string, options: UnifiedDiffOptions = {}): string {
  const [labelA, labelB] = options.labels ?? ["legacy", "candidate"];
  const context = options.context ?? 3;
  const maxLines = options.maxLines ?? 200;
  const edits = diffLines(splitLines(a), splitLines(b));
  const changed = edits.flatMap((edit, i) => (edit.op === " " ? [] : [i]));
  if (changed.length === 0) return "";

  // Runs of changes closer than two contexts apart share a hunk.
  const hunks: [number, number][] = [];
  for (const i of changed) {
    const last = hunks[hunks.length - 1];
    if (last && i - last[1] - 1 <= 2 * context) last[1] = i;
    else hunks.push([i, i]);
  }
  // Line numbers (1-based) before each edit, in a and in b.
  const lineA: number[] = [];
  const lineB: number[] = [];
  let na = 1;
  let nb = 1;
  for (const edit of edits) {
    lineA.push(na);
    lineB.push(nb);
    if (edit.op !== "+") na++;
    if (edit.op !== "-") nb++;
  }
  const lines = [`--- ${labelA}`, `+++ ${labelB}`];
  for (const [first, last] of hunks) {
    const start = Math.max(0, first - context);
    const end = Math.min(edits.length - 1, last + context);
    const slice = edits.slice(start, end + 1);
    const countA = slice.filter((e) => e.op !== "+").length;
    const countB = slice.filter((e) => e.op !== "-").length;
    // As diff -u: an empty side is numbered by the line before it.
    const startA = countA === 0 ? lineA[start]! - 1 : lineA[start]!;
    const startB = countB === 0 ? lineB[start]! - 1 : lineB[start]!;
    lines.push(`@@ -${startA},${countA} +${startB},${countB} @@`);
    for (const edit of slice) lines.push(`${edit.op}${edit.line}`);
  }
  if (lines.length > maxLines) {
    const hidden = lines.length - maxLines;
    return [...lines.slice(0, maxLines), `… ${hidden} more diff line${hidden === 1 ? "" : "s"}`].join("\n");
  }
  return lines.join("\n");
}

/** Lines of a text; a final newline does not make an empty last line. */
function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
