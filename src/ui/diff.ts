/**
 * Two texts as a unified diff, as `diff -u` prints it, from jsdiff's
 * structured patch: shadow's outputs, a copy's file before and after. Not
 * exported by ui/index.ts, so that jsdiff loads only where a diff is shown. Past MAX_EDITS differences jsdiff gives up (a diff of two
 * unrelated large outputs stays cheap in time and memory) and the differing
 * middle, between the common leading and trailing lines, is shown as one
 * replaced block instead.
 */
import { structuredPatch, type StructuredPatchHunk } from "diff";

const MAX_EDITS = 2000;

export interface UnifiedDiffOptions {
  labels?: [string, string];
  /** Unchanged lines shown around each change (default 3). */
  context?: number;
  /** Lines of diff kept; the rest is counted in a last line (default 200). */
  maxLines?: number;
  /** Differences past which the middle is shown as one replaced block (default 2000). */
  maxEdits?: number;
}

/** `a` and `b` as a unified diff (headers, @@ hunks); empty when they are equal. */
export function unifiedDiff(a: string, b: string, options: UnifiedDiffOptions = {}): string {
  if (a === b) return "";
  const [labelA, labelB] = options.labels ?? ["legacy", "candidate"];
  const context = options.context ?? 3;
  const maxLines = options.maxLines ?? 200;
  const patch = structuredPatch(labelA, labelB, a, b, undefined, undefined, { context, maxEditLength: options.maxEdits ?? MAX_EDITS });
  const hunks = patch?.hunks ?? [replacedMiddle(a, b, context)];
  const lines = [`--- ${labelA}`, `+++ ${labelB}`];
  // As diff -u (and jsdiff's own formatPatch): an empty side is numbered by the line before it.
  const start = (line: number, count: number) => (count === 0 ? line - 1 : line);
  for (const hunk of hunks) lines.push(`@@ -${start(hunk.oldStart, hunk.oldLines)},${hunk.oldLines} +${start(hunk.newStart, hunk.newLines)},${hunk.newLines} @@`, ...hunk.lines);
  if (lines.length > maxLines) {
    const hidden = lines.length - maxLines;
    return [...lines.slice(0, maxLines), `… ${hidden} more diff line${hidden === 1 ? "" : "s"}`].join("\n");
  }
  return lines.join("\n");
}

/** One hunk replacing the lines between the common head and tail, with `context` lines either side. */
function replacedMiddle(a: string, b: string, context: number): StructuredPatchHunk {
  const linesA = splitLines(a);
  const linesB = splitLines(b);
  let head = 0;
  while (head < linesA.length && head < linesB.length && linesA[head] === linesB[head]) head++;
  let tail = 0;
  while (tail < linesA.length - head && tail < linesB.length - head && linesA[linesA.length - 1 - tail] === linesB[linesB.length - 1 - tail]) tail++;
  const before = Math.min(head, context);
  const after = Math.min(tail, context);
  const removed = linesA.slice(head, linesA.length - tail);
  const added = linesB.slice(head, linesB.length - tail);
  const lines = [
    ...linesA.slice(head - before, head).map((line) => ` ${line}`),
    ...removed.map((line) => `-${line}`),
    ...added.map((line) => `+${line}`),
    ...linesA.slice(linesA.length - tail, linesA.length - tail + after).map((line) => ` ${line}`),
  ];
  const oldLines = before + removed.length + after;
  const newLines = before + added.length + after;
  return { oldStart: head - before + 1, oldLines, newStart: head - before + 1, newLines, lines };
}

/** Lines of a text; a final newline does not make an empty last line. */
function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
