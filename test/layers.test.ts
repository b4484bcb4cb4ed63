import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

// The layer table of docs/ARCHITECTURE.md: a module imports modules of its own
// layer or below, never above, and no two modules import each other (directly
// or round a longer loop). Type-only imports count: they are dependencies too.
const layers: readonly (readonly string[])[] = [
  ["observe", "ui", "errors", "time", "glob"],
  ["probe", "transport", "expr", "schema"],
  ["actions", "inventory", "journal", "jobs"],
  ["config", "cluster"],
  ["engine", "policy"],
  ["runs"],
  ["heal", "mttr", "audit", "shadow", "demo", "schedule", "agent"],
  ["cli", "server", "web"],
];

const src = resolve(import.meta.dir, "../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** The module a file belongs to: its top folder under src/, or the file's name for src/errors.ts. */
function moduleOf(file: string): string {
  const [head, ...rest] = relative(src, file).split("/");
  return rest.length === 0 ? head!.replace(/\.ts$/, "") : head!;
}

/** Every module-to-module import in src/, with one file that makes it. */
function moduleImports(): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  const specifier = /(?:\bfrom|\bimport\s*\(|^\s*import)\s*["'](\.{1,2}\/[^"']+)["']/gm;
  for (const file of sourceFiles(src)) {
    const from = moduleOf(file);
    for (const match of readFileSync(file, "utf8").matchAll(specifier)) {
      const target = resolve(dirname(file), match[1]!);
      if (!target.startsWith(src + "/")) continue;
      const to = moduleOf(target);
      if (to === from) continue;
      const out = edges.get(from) ?? new Map<string, string>();
      if (!out.has(to)) out.set(to, relative(src, file));
      edges.set(from, out);
    }
  }
  return edges;
}

function layerOf(module: string): number {
  return layers.findIndex((layer) => layer.includes(module));
}

describe("module layers", () => {
  const edges = moduleImports();

  test("every module under src/ has a place in the layer table", () => {
    const modules = new Set([...readdirSync(src, { withFileTypes: true })].map((e) => (e.isDirectory() ? e.name : e.name.replace(/\.ts$/, ""))).filter((name) => !name.endsWith(".test")));
    expect([...modules].filter((m) => layerOf(m) < 0)).toEqual([]);
  });

  test("no module imports a module of a higher layer", () => {
    const upward: string[] = [];
    for (const [from, out] of edges) {
      for (const [to, file] of out) if (layerOf(to) > layerOf(from)) upward.push(`${from} -> ${to} (${file})`);
    }
    expect(upward).toEqual([]);
  });

  test("no two modules depend on each other, directly or round a loop", () => {
    const loops: string[] = [];
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (module: string) => {
      state.set(module, "open");
      path.push(module);
      for (const next of edges.get(module)?.keys() ?? []) {
        if (state.get(next) === "open") loops.push([...path.slice(path.indexOf(next)), next].join(" -> "));
        else if (!state.has(next)) visit(next);
      }
      path.pop();
      state.set(module, "done");
    };
    for (const module of edges.keys()) if (!state.has(module)) visit(module);
    expect(loops).toEqual([]);
  });

  test("the check sees an upward import when there is one", () => {
    // cli imports engine: the reverse would be reported.
    expect(edges.get("cli")?.has("engine")).toBe(true);
    expect(layerOf("engine")).toBeLessThan(layerOf("cli"));
  });
});
