import { fileURLToPath } from "node:url";
import { configError, usageError } from "../errors.ts";
import type { Finding } from "./types.ts";

/*
 * Fingerprints and baselines. A finding's fingerprint is what survives lines
 * moving: its rule, its file, its source line with blanks collapsed, and which
 * occurrence of that same line and rule in the file it is. SARIF carries it as
 * partialFingerprints (the key below), where code-scanning services match
 * results across runs the same way; `--baseline FILE` reads a SARIF log saved
 * earlier and keeps only the findings whose rule and fingerprint it lacks.
 */

/** The partialFingerprints key opskit writes (versioned: a new way of computing it gets a new key). */
export const fingerprintKey = "opskitFindingHash/v1";

const normalized = (source: string) => source.trim().replace(/\s+/g, " ");

function hash(rule: string, file: string, source: string, occurrence: number): string {
  return new Bun.CryptoHasher("sha256").update(`${rule}\0${file}\0${normalized(source)}\0${occurrence}`).digest("hex").slice(0, 32);
}

/** Sets each finding's fingerprint; the list must be in file, line and column order. */
export function fingerprint(findings: Finding[]): void {
  const seen = new Map<string, number>();
  for (const finding of findings) {
    const key = `${finding.rule}\0${finding.file}\0${normalized(finding.source)}`;
    const occurrence = seen.get(key) ?? 0;
    seen.set(key, occurrence + 1);
    finding.fingerprint = hash(finding.rule, finding.file, finding.source, occurrence);
  }
}

/** A saved SARIF log's results, as `rule\0fingerprint` keys. */
export type Baseline = ReadonlySet<string>;

export const baselineKey = (rule: string, fingerprint: string) => `${rule.toUpperCase()}\0${fingerprint}`;

interface SarifResult {
  ruleId?: unknown;
  partialFingerprints?: Record<string, unknown>;
  locations?: { physicalLocation?: { artifactLocation?: { uri?: unknown }; region?: { startLine?: unknown; snippet?: { text?: unknown } } } }[];
}

/**
 * Reads a SARIF log saved by `opskit audit --format sarif`. A result without
 * opskit's fingerprint (another tool's log, an older opskit) is fingerprinted
 * from its rule, file and snippet the same way, when it has them.
 */
export async function readBaseline(path: string): Promise<Baseline> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw usageError("E_AUDIT_BASELINE", `baseline not found: ${path}`, "save one first: opskit audit --format sarif -o audit.sarif (commit it, then pass --baseline audit.sarif)");
  let log: { runs?: { results?: SarifResult[] }[] };
  try {
    log = JSON.parse(await file.text());
  } catch (error) {
    throw configError("E_AUDIT_BASELINE", `${path}: not JSON: ${(error as Error).message}`, "--baseline reads a SARIF log written by opskit audit --format sarif");
  }
  if (!log || typeof log !== "object" || !Array.isArray(log.runs)) throw configError("E_AUDIT_BASELINE", `${path}: not a SARIF log (no runs)`, "--baseline reads a SARIF log written by opskit audit --format sarif");
  const keys = new Set<string>();
  const unprinted: { rule: string; file: string; source: string; line: number }[] = [];
  for (const run of log.runs) {
    for (const result of run?.results ?? []) {
      if (typeof result?.ruleId !== "string") continue;
      const own = result.partialFingerprints?.[fingerprintKey];
      if (typeof own === "string") {
        keys.add(baselineKey(result.ruleId, own));
        continue;
      }
      const location = result.locations?.[0]?.physicalLocation;
      const uri = location?.artifactLocation?.uri;
      const snippet = location?.region?.snippet?.text;
      if (typeof uri === "string" && typeof snippet === "string") {
        unprinted.push({ rule: result.ruleId, file: safeDecode(uri), source: snippet, line: Number(location?.region?.startLine ?? 0) });
      }
    }
  }
  unprinted.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
  const seen = new Map<string, number>();
  for (const r of unprinted) {
    const key = `${r.rule}\0${r.file}\0${normalized(r.source)}`;
    const occurrence = seen.get(key) ?? 0;
    seen.set(key, occurrence + 1);
    keys.add(baselineKey(r.rule, hash(r.rule, r.file, r.source, occurrence)));
  }
  return keys;
}

/** A result's file as findings name it: relative to the scan root (SRCROOT), or absolute for a file:// URI. */
function safeDecode(uri: string): string {
  try {
    return uri.startsWith("file:") ? fileURLToPath(uri) : decodeURIComponent(uri);
  } catch {
    return uri;
  }
}
