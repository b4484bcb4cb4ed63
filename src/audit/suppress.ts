import type { Hit, Rule } from "./types.ts";

/*
 * In-source suppressions: `# opskit-audit: ignore RULE[,RULE...] reason`.
 * On a line of its own it covers the next line that is neither blank nor
 * another suppression (so several can be stacked); after code it covers its
 * own line. A suppression must say why: one without a reason is itself a
 * finding and suppresses nothing until it has one.
 */

export const suppressionRules: readonly Rule[] = [
  {
    id: "OPS-AUD-001",
    severity: "warning",
    title: "suppression without a reason",
    why: "A suppression nobody can explain hides a risk from every later reader; the reason is what a reviewer checks.",
    fix: "Say why the finding does not apply: # opskit-audit: ignore OPS-SH-006 sudo runs from an interactive setup script only",
  },
];

export interface Suppression {
  /** Rule ids, upper-cased. */
  rules: string[];
  reason: string;
  /** Line of the comment. */
  line: number;
  /** Line it covers. */
  covers: number;
}

const marker = /#\s*opskit-audit:\s*ignore\b[ \t]*([A-Za-z0-9_-]+(?:[ \t]*,[ \t]*[A-Za-z0-9_-]+)*)?[ \t]*(.*?)\s*$/;

/** The suppressions a file declares, and findings for those that cannot count. */
export function readSuppressions(lines: readonly string[]): { suppressions: Suppression[]; hits: Hit[] } {
  const suppressions: Suppression[] = [];
  const hits: Hit[] = [];
  let waiting: Omit<Suppression, "covers">[] = [];
  lines.forEach((text, index) => {
    const line = index + 1;
    const match = text.includes("opskit-audit") ? marker.exec(text) : null;
    if (match) {
      const column = match.index + 1;
      const rules = (match[1] ?? "").split(",").map((r) => r.trim().toUpperCase()).filter(Boolean);
      const reason = match[2]!.trim();
      if (rules.length === 0) {
        hits.push({ rule: "OPS-AUD-001", line, column, message: "opskit-audit: ignore names no rule; it suppresses nothing" });
        return;
      }
      if (!reason) {
        hits.push({ rule: "OPS-AUD-001", line, column, message: `suppression of ${rules.join(", ")} gives no reason; it is not applied until it has one` });
        return;
      }
      const before = text.slice(0, match.index).trim();
      if (before !== "") suppressions.push({ rules, reason, line, covers: line });
      else waiting.push({ rules, reason, line });
      return;
    }
    if (text.trim() === "" || waiting.length === 0) return;
    for (const entry of waiting) suppressions.push({ ...entry, covers: line });
    waiting = [];
  });
  return { suppressions, hits };
}

/** The suppression that covers a finding of this rule on this line, if any. */
export function suppressionFor(suppressions: readonly Suppression[], rule: string, line: number): Suppression | undefined {
  const id = rule.toUpperCase();
  return suppressions.find((s) => s.covers === line && s.rules.includes(id));
}
