import { ExitCode } from "../errors.ts";
import type { Target } from "../inventory/index.ts";
import { configOptions, loadConfigFromOptions } from "./config-options.ts";
import { defineCommand, type OptionsOf } from "./options.ts";
import { outputOption } from "./output-format.ts";

export const inventorySpec = defineCommand({
  name: "inventory",
  description: "list the targets the inventory resolves to, optionally narrowed by a selector",
  argument: { name: "[selector...]", description: "label selector, e.g. 'role=web,zone in (a,b)', 'name=web-*', 'group=db', '!canary'" },
  options: { ...configOptions, json: { kind: "boolean", description: "one JSON object per target per line" }, ...outputOption },
  examples: [
    { text: "Every target", command: "opskit inventory" },
    { text: "The web hosts in zones a and b, as YAML", command: "opskit inventory 'role=web,zone in (a,b)' -o yaml" },
  ],
});

/** `opskit inventory [SELECTOR] [--json]`: an aligned table sorted by name, then a count. */
export async function inventoryCommand(positionals: string[], options: OptionsOf<typeof inventorySpec>): Promise<number> {
  const { parseSelector, matches, resolveInventory } = await import("../inventory/index.ts");
  const selectorText = positionals.join(" ").trim();
  // A malformed selector is a usage error before any file is read.
  const selector = parseSelector(selectorText);
  const targets = await resolveInventory(await loadConfigFromOptions(options));
  const chosen = targets.filter((target) => matches(target, selector));
  if (options.json) {
    if (chosen.length > 0) console.log(chosen.map((target) => JSON.stringify({ type: "target", ...target })).join("\n"));
    return ExitCode.ok;
  }
  const lines = chosen.length > 0 ? renderTable(chosen) : [];
  const noun = (n: number) => `${n} target${n === 1 ? "" : "s"}`;
  lines.push(selectorText ? `${noun(chosen.length)} ${chosen.length === 1 ? "matches" : "match"} ${selectorText} (of ${targets.length})` : noun(targets.length));
  console.log(lines.join("\n"));
  return ExitCode.ok;
}

function renderTable(targets: Target[]): string[] {
  const rows = targets.map((t) => [
    t.name,
    `${t.address.includes(":") ? `[${t.address}]` : t.address}:${t.port}`,
    t.user,
    t.groups.join(",") || "-",
    Object.entries(t.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(",") || "-",
  ]);
  const header = ["NAME", "ADDRESS", "USER", "GROUPS", "LABELS"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd());
}
