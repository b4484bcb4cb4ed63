import pkg from "../../package.json" with { type: "json" };
import type { Rule } from "./types.ts";

/*
 * Where each opskit rule is documented: docs/audit/<RULE-ID>.md in the
 * project's repository (what it finds, why, a bad and a fixed example, how to
 * suppress or exclude it). SARIF's helpUri points there; ShellCheck's codes
 * keep their wiki pages.
 */

/** The folder of rule pages, from package.json's homepage. */
export const ruleDocsBase = `${pkg.homepage}/blob/main/docs/audit/`;

/** The page documenting a rule: its own helpUri (ShellCheck's wiki), else opskit's page. */
export function helpUriOf(rule: Pick<Rule, "id" | "helpUri">): string {
  return rule.helpUri ?? `${ruleDocsBase}${rule.id}.md`;
}

/** The repository path of an opskit rule's page. */
export const ruleDocPath = (id: string) => `docs/audit/${id}.md`;
