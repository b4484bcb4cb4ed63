import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { dashboardAssets } from "./index.ts";

const app = join(import.meta.dir, "app");
const repo = join(import.meta.dir, "../..");

function browserSources(dir = app): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return browserSources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

describe("the dashboard's files", () => {
  test("are served by URL path with their types, and stay within a few hundred KB", async () => {
    const assets = await dashboardAssets();
    expect([...assets.keys()].sort()).toEqual(["/", "/assets/app.css", "/assets/app.js", "/favicon.svg"]);
    expect(assets.get("/")!.type).toStartWith("text/html");
    expect(assets.get("/assets/app.js")!.type).toStartWith("text/javascript");
    expect(assets.get("/assets/app.css")!.type).toStartWith("text/css");
    const size = (path: string) => new TextEncoder().encode(String(assets.get(path)!.body)).byteLength;
    // Measured at about 60 KB of script and 14 KB of styles, minified: the bounds leave room, not a habit of growth.
    expect(size("/assets/app.js")).toBeLessThan(150 * 1024);
    expect(size("/assets/app.css")).toBeLessThan(40 * 1024);
    expect([...assets.keys()].reduce((sum, path) => sum + size(path), 0)).toBeLessThan(300 * 1024);
  });

  test("index.html has no inline script, style or handler, and loads only its own files (the CSP allows nothing else)", async () => {
    const html = String((await dashboardAssets()).get("/")!.body);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    for (const [, url] of html.matchAll(/\b(?:src|href)="([^"]+)"/g)) expect(url).toMatch(/^(\/|#)/);
  });

  test("are embedded when opskit is bundled (as bun build --compile does): the bundle holds them and builds nothing at run time", async () => {
    const built = await Bun.build({ entrypoints: [join(import.meta.dir, "index.ts")], target: "bun", splitting: true, minify: true });
    expect(built.success).toBe(true);
    const code = (await Promise.all(built.outputs.map((o) => o.text()))).join("\n");
    // A custom property of the styles and a string of the script: both files are in.
    expect(code).toContain("--phase-detect");
    expect(code).toContain("Skip to content");
    expect(code).not.toContain("spawnSync");
  });

  test("the bundled script neither evaluates strings nor writes markup", async () => {
    const js = String((await dashboardAssets()).get("/assets/app.js")!.body);
    expect(js).not.toMatch(/\beval\(|new Function\(|\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write/);
  });
});

describe("the dashboard's browser code", () => {
  test("never turns data into markup or code, and uses no Bun API", () => {
    const forbidden: [RegExp, string][] = [
      [/\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser/, "markup from strings"],
      [/\beval\(|new Function\(|setTimeout\(\s*["'`]|setInterval\(\s*["'`]/, "code from strings"],
      [/setAttribute\(\s*["'](?:style|on\w+)["']/, "inline style or handler"],
      [/\bBun\.|from "bun"|from "node:/, "a server API"],
      [/document\.cookie|localStorage/, "the token outside sessionStorage"],
    ];
    const found: string[] = [];
    for (const file of browserSources()) {
      const text = readFileSync(file, "utf8");
      for (const [pattern, what] of forbidden) if (pattern.test(text)) found.push(`${relative(app, file)}: ${what}`);
    }
    expect(found).toEqual([]);
  });

  test("type-checks against the DOM under strict TypeScript (its own program: src/web/app/tsconfig.json)", async () => {
    const tsc = Bun.spawn([join(repo, "node_modules/.bin/tsc"), "-p", app, "--noEmit"], { cwd: repo, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(tsc.stdout).text(), new Response(tsc.stderr).text(), tsc.exited]);
    expect(`${out}${err}`).toBe("");
    expect(code).toBe(0);
  }, 120_000);
});
