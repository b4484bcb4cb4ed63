// The dashboard held open through the soak: headless Chromium (Debian's, via
// playwright-core) on the server's page, the token entered as a user pastes
// it, the view switched between the Now page and the health grid, and the
// page's own memory read through the DevTools protocol after a full garbage
// collection: what is left is what the page holds on to.
import type { CDPSession } from "playwright-core";
import { launchChromium, watchPage, type Browser, type BrowserContext, type Page } from "../../test/harness/browser.ts";

// The same launch as the dashboard's browser tests: Debian's chromium, headless, quiet.
export { launchChromium };

const NAVIGATION_TIMEOUT_MS = 30_000;
const ACTION_TIMEOUT_MS = 15_000;
/** The grid builds its rows in batches per animation frame; 2,000 take a few frames. */
const ROWS_TIMEOUT_MS = 30_000;

export type View = "now" | "health";

export interface PageSample {
  /** JSHeapUsedSize after HeapProfiler.collectGarbage. */
  heapBytes: number;
  /** DOM nodes alive (Performance.getMetrics Nodes). */
  nodes: number;
  listeners: number;
  view: View;
}

export interface Dashboard {
  sample(): Promise<PageSample>;
  show(view: View): Promise<void>;
  readonly view: View;
  /** Uncaught exceptions, console errors (failed requests among them) and CSP violations since the token was entered. */
  errors(): Promise<string[]>;
  close(): Promise<void>;
}

/** Opens the dashboard at `url` in a fresh context, enters `token` in its token field and waits for the Now page; the health grid must show `checks` rows. */
export async function openDashboard(browser: Browser, url: string, token: string, checks: number): Promise<Dashboard> {
  const context: BrowserContext = await browser.newContext();
  const page: Page = await context.newPage();
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  const watch = await watchPage(page);
  let view: View = "now";
  let from = { errors: 0, console: 0 };
  try {
    await page.goto(url, { timeout: NAVIGATION_TIMEOUT_MS });
    await enterToken(page, token);
    // Until the token is in, the page's reads are refused (401), as for any user who opens it: not the page failing.
    from = { errors: watch.errors.length, console: watch.console.length };
    await showView(page, "now", checks);
  } catch (error) {
    await context.close();
    throw error;
  }
  const cdp: CDPSession = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  return {
    get view() {
      return view;
    },
    async errors() {
      const csp = await watch.cspViolations();
      return [
        ...watch.errors.slice(from.errors).map((message) => `uncaught: ${message.slice(0, 300)}`),
        ...watch.console.slice(from.console).filter((line) => line.startsWith("error:")).map((line) => `console ${line.slice(0, 300)}`),
        ...csp.map((violation) => `CSP: ${violation.slice(0, 300)}`),
      ];
    },
    async sample() {
      await cdp.send("HeapProfiler.collectGarbage");
      const { metrics } = await cdp.send("Performance.getMetrics");
      const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? Number.NaN;
      return { heapBytes: metric("JSHeapUsedSize"), nodes: metric("Nodes"), listeners: metric("JSEventListeners"), view };
    },
    async show(next) {
      await showView(page, next, checks);
      view = next;
    },
    close: () => context.close(),
  };
}

/** Pastes the token into the page's token field and submits it, as a user does, then waits for the live stream. */
async function enterToken(page: Page, token: string): Promise<void> {
  await page.locator('input[name="token"]').fill(token);
  await page.getByRole("button", { name: "Use token" }).click();
  await page.getByText("Live", { exact: true }).first().waitFor();
}

/** Follows the page's own navigation link to a view and waits for its heading; the health grid, for a row per check. */
async function showView(page: Page, view: View, checks: number): Promise<void> {
  const name = view === "now" ? "Now" : "Health";
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { level: 1, name, exact: true }).waitFor();
  if (view === "health") {
    // A row per check beside the header row, by their ARIA role (off-screen rows skip layout, so "attached", not "visible"); through
    // Playwright's selectors, not a predicate: the page's CSP refuses code evaluated from strings, which polling predicates need.
    await page.locator('main [role="row"]').nth(checks).waitFor({ state: "attached", timeout: ROWS_TIMEOUT_MS });
  }
}
