import { configError, usageError } from "../errors.ts";
import type { ShadowAspect, ShadowComparisonRecord } from "../journal/index.ts";
// Not through ui/index.ts: jsdiff is loaded only by what shows a diff.
import { unifiedDiff } from "../ui/diff.ts";
import { secrets } from "../observe/index.ts";

/** What one side printed and how it ended; `error` when it could not run at all. */
export interface SideOutcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  error?: string;
  /** The engine run a workflow candidate ran in. */
  runId?: string;
}

/** A regular expression replacement applied to both outputs before they are compared. */
export interface Normalizer {
  pattern: RegExp;
  replace: string;
}

export const shadowAspects: readonly ShadowAspect[] = ["stdout", "exit", "json"];

/**
 * Compiles normalizers. Patterns are JavaScript regular expressions applied
 * globally and per line (flags `gm`: ^ and $ match at line ends); `$1` in the
 * replacement refers to a group. A bad pattern is a usage error on the
 * command line (`--normalize`) and a config error in a workflow's shadow.
 */
export function compileNormalizers(rules: readonly { pattern: string; replace: string }[], where: (index: number) => string, from: "usage" | "config" = "usage"): Normalizer[] {
  return rules.map((rule, i) => {
    try {
      return { pattern: new RegExp(rule.pattern, "gm"), replace: rule.replace };
    } catch (error) {
      throw (from === "config" ? configError : usageError)("E_SHADOW_NORMALIZE", `${where(i)}: invalid regular expression "${rule.pattern}": ${(error as Error).message}`, "write a JavaScript regular expression, e.g. \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z");
    }
  });
}

/** `--normalize 'REGEX=>REPL'`: the last `=>` separates the two, so a pattern may hold one. */
export function parseNormalizeOption(text: string): { pattern: string; replace: string } {
  const at = text.lastIndexOf("=>");
  if (at <= 0) throw usageError("E_USAGE_NORMALIZE", `invalid --normalize "${text}"`, "write it as REGEX=>REPLACEMENT, e.g. --normalize '\\d+ms=>DURATION'");
  return { pattern: text.slice(0, at), replace: text.slice(at + 2) };
}

/** `--compare stdout,exit,json`. */
export function parseAspects(text: string): ShadowAspect[] {
  const aspects = text.split(",").map((a) => a.trim()).filter(Boolean);
  const unknown = aspects.filter((a) => !(shadowAspects as readonly string[]).includes(a));
  if (aspects.length === 0 || unknown.length > 0) {
    throw usageError("E_USAGE_COMPARE", `invalid --compare "${text}"`, `a comma-separated list of ${shadowAspects.join(", ")}, e.g. --compare stdout,exit`);
  }
  return [...new Set(aspects)] as ShadowAspect[];
}

export function normalizeOutput(text: string, normalizers: readonly Normalizer[]): string {
  let result = text;
  for (const { pattern, replace } of normalizers) result = result.replace(pattern, replace);
  return result;
}

/** Trailing whitespace on every line and blank lines at the end do not count. */
function comparableText(text: string): string {
  return text
    .split("\n")
    .map((line) => line.replace(/\s+$/, ""))
    .join("\n")
    .replace(/\n+$/, "");
}

/** JSON with object keys sorted at every depth; arrays keep their order. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

/**
 * The canonical form of the JSON a command printed: one document, or JSON
 * lines (one document a line, as `--json` output is); undefined if it is
 * neither.
 */
export function canonicalJson(text: string): string | undefined {
  const parse = (t: string): { value: unknown } | undefined => {
    try {
      return { value: JSON.parse(t) };
    } catch {
      return undefined;
    }
  };
  const whole = parse(text);
  if (whole) return JSON.stringify(sortKeys(whole.value), null, 2);
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return undefined;
  const documents = lines.map(parse);
  if (documents.some((d) => d === undefined)) return undefined;
  return documents.map((d) => JSON.stringify(sortKeys(d!.value))).join("\n");
}

export interface ComparisonOutcome {
  equal: boolean;
  differs: ShadowAspect[];
  /** A bounded unified diff of what was compared as text (canonical JSON when json is compared). */
  diff: string;
}

const DIFF_LINES = 200;

/**
 * Compares two outcomes on the chosen aspects. Both stdouts are normalized
 * first; `json` compares the canonical forms, so key order and formatting do
 * not count, and output that is not JSON on either side differs.
 */
export function compareOutcomes(legacy: SideOutcome, candidate: SideOutcome, aspects: readonly ShadowAspect[], normalizers: readonly Normalizer[]): ComparisonOutcome {
  const legacyText = comparableText(normalizeOutput(legacy.stdout, normalizers));
  const candidateText = comparableText(normalizeOutput(candidate.stdout, normalizers));
  const differs: ShadowAspect[] = [];
  let diffed: [string, string] | undefined;
  for (const aspect of aspects) {
    if (aspect === "exit") {
      if (legacy.exitCode !== candidate.exitCode) differs.push("exit");
    } else if (aspect === "stdout") {
      if (legacyText !== candidateText) {
        differs.push("stdout");
        diffed ??= [legacyText, candidateText];
      }
    } else {
      const legacyJson = canonicalJson(legacyText);
      const candidateJson = canonicalJson(candidateText);
      if (legacyJson === undefined || candidateJson === undefined || legacyJson !== candidateJson) {
        differs.push("json");
        // A side that printed no JSON is shown as it printed it.
        diffed = [legacyJson ?? legacyText, candidateJson ?? candidateText];
      }
    }
  }
  const diff = diffed ? unifiedDiff(`${diffed[0]}\n`, `${diffed[1]}\n`, { maxLines: DIFF_LINES }) : "";
  // A side that could not run agrees with nothing, whatever it printed before it stopped.
  return { equal: differs.length === 0 && legacy.error === undefined && candidate.error === undefined, differs, diff };
}

/** The candidate could not run, or it failed where the legacy succeeded. */
export function candidateFailed(legacy: SideOutcome, candidate: SideOutcome): boolean {
  return candidate.error !== undefined || (candidate.exitCode !== 0 && legacy.exitCode === 0);
}

/** One comparison as the journal records it, whichever side of opskit ran it. */
export function comparisonRecord(
  legacy: SideOutcome,
  candidate: SideOutcome,
  comparison: ComparisonOutcome,
  where: Pick<ShadowComparisonRecord, "name" | "at" | "source"> & { runId?: string | undefined; target?: string },
): Omit<ShadowComparisonRecord, "id"> {
  // Written to the journal directly, not through the event stream: masked here.
  return secrets.redactValue({
    name: where.name,
    at: where.at,
    source: where.source,
    ...(where.runId !== undefined ? { runId: where.runId } : {}),
    ...(where.target !== undefined ? { target: where.target } : {}),
    legacyExit: legacy.exitCode,
    legacyDurationMs: legacy.durationMs,
    ...(legacy.error !== undefined ? { legacyError: legacy.error } : {}),
    candidateExit: candidate.exitCode,
    candidateDurationMs: candidate.durationMs,
    ...(candidate.error !== undefined ? { candidateError: candidate.error } : {}),
    candidateFailed: candidateFailed(legacy, candidate),
    ...comparison,
  });
}
