// Drives Debian's Chromium through playwright-core, headless, the way the
// dashboard's tests and the soak benchmark open the page. A missing browser
// is a failure with the fix, never a skipped test.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";
import { repoRoot } from "./cli.ts";

export const CHROMIUM = "/usr/bin/chromium";
/** Quiet, reproducible: no phoning home, no component updates, no sync; --no-sandbox because tests may run as root. */
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (sh scripts/setup.sh does, as root)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** What a page did that a test may need to see: script errors, dialogs, console messages, CSP violations. */
export interface PageWatch {
  errors: string[];
  dialogs: string[];
  console: string[];
  /** securitypolicyviolation events the page saw (blocked URI and directive). */
  cspViolations(): Promise<string[]>;
}

/**
 * Watches a page from before its first script: page errors, dialogs (each
 * dismissed and recorded), console messages, and CSP violations through an
 * init script (injected by the browser itself, so the page's CSP allows it).
 */
export async function watchPage(page: Page): Promise<PageWatch> {
  const watch: PageWatch = {
    errors: [],
    dialogs: [],
    console: [],
    cspViolations: () => page.evaluate("(window.__cspViolations || []).slice()") as Promise<string[]>,
  };
  page.on("pageerror", (error) => watch.errors.push(error.message));
  page.on("dialog", (dialog) => {
    watch.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => undefined);
  });
  page.on("console", (message) => watch.console.push(`${message.type()}: ${message.text()}`));
  // A string, not a function: this file is type-checked without the DOM's types.
  await page.addInitScript(`(() => {
    const seen = [];
    window.__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) => seen.push(e.violatedDirective + " " + e.blockedURI + " " + e.sample));
  })()`);
  return watch;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

const axeSource = () => readFileSync(join(repoRoot, "node_modules/axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core on the page as it is and returns its serious and critical
 * violations. axe is evaluated through the DevTools protocol (not a script
 * tag, which the page's CSP would refuse as inline), so the page's own
 * policy stays as strict as it is served.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  const loaded = await page.evaluate("typeof window.axe !== 'undefined'");
  if (!loaded) await page.evaluate(axeSource());
  const violations = (await page.evaluate(`window.axe.run(document, { resultTypes: ["violations"] }).then((result) =>
    result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`)) as AxeViolation[];
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Where the tests' screenshots go (test-output/, not committed). */
export function screenshotDir(name: string): string {
  const dir = join(repoRoot, "test-output", name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export type { Browser, BrowserContext, BrowserContextOptions, Page };
