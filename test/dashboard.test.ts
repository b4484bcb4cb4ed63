// The dashboard in a real browser (Debian's Chromium, headless) against a
// real `opskit serve`: live updates, approval by keyboard, a run's output
// followed live, refusal without the token, hostile alert text that must stay
// text, axe-core in light and dark, and screenshots under test-output/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium, screenshotDir, seriousViolations, watchPage, type Browser, type BrowserContext, type Page, type PageWatch } from "./harness/browser.ts";
import { alertmanagerNotification, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

const hostileOutput = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

let server: ServeProcess;
let browser: Browser;
let endpoints: ReturnType<typeof Bun.serve>;
let gate: string;
let shots: string;

/**
 * The remediation prints 30 lines, then waits for the gate file the test
 * touches once it has seen those lines arrive live, then prints 10 more: the
 * page is watched while the run is under way, whatever the machine's speed.
 */
function config(): string {
  const script = [
    `for i in $(seq 1 30); do echo "line $i of the fix"; sleep 0.02; done`,
    `printf '%s\\n' '${hostileOutput}'`,
    `n=0; while [ ! -f '${gate}' ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done`,
    `for i in $(seq 31 40); do echo "line $i of the fix"; done`,
  ].join("\n");
  return `
checks:
  - name: web-ok
    probe: http://127.0.0.1:${endpoints.port}/ok
    interval: 1s
    labels: { alertname: WebDown, group: web }
  - name: web-broken
    probe: http://127.0.0.1:${endpoints.port}/broken
    interval: 1s
    failureThreshold: 100000
    labels: { alertname: WebBroken, group: web }
workflows:
  free-disk:
    targets: local
    steps:
      - name: clean
        exec: ${JSON.stringify(script)}
        timeout: 120s
rules:
  - name: disk-full
    match: { alertname: DiskFull }
    run: free-disk
    approval: true
`;
}

const fire = (labels: Record<string, string>, annotations: Record<string, string> = {}) => server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels, annotations }]));

/**
 * Waits until `expression` (evaluated in the page) is truthy; the message
 * says what was awaited. Polled with page.evaluate, which the DevTools
 * protocol runs whatever the page's CSP: waitForFunction evaluates a string
 * with eval inside the page, which the dashboard's CSP (rightly) refuses.
 */
async function until(page: Page, expression: string, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(`Boolean(${expression})`))) {
    if (Date.now() > deadline) {
      const text = await page.evaluate("(document.querySelector('main') ?? document.body).innerText").catch(() => "");
      throw new Error(`timed out waiting for ${what}; the page shows:\n${String(text).slice(0, 3000)}\nserver output:\n${server.output().slice(-3000)}`);
    }
    await Bun.sleep(50);
  }
}

const bodyHas = (text: string) => `document.body.innerText.includes(${JSON.stringify(text)})`;

async function useToken(page: Page, token: string): Promise<void> {
  await page.fill("#token-input", token);
  await page.press("#token-input", "Enter");
  await until(page, `document.querySelector(".stream-state")?.textContent === "Live"`, "the event stream to connect");
}

async function openPage(context: BrowserContext, token?: string): Promise<{ page: Page; watch: PageWatch }> {
  const page = await context.newPage();
  const watch = await watchPage(page);
  if (process.env.DEBUG_PAGE) {
    page.on("request", (q) => console.log(Date.now() % 100000, "req", q.url()));
    page.on("response", (q) => console.log(Date.now() % 100000, "res", q.status(), q.url()));
  }
  await page.goto(`${server.url}/`);
  if (token) await useToken(page, token);
  return { page, watch };
}

beforeAll(async () => {
  endpoints = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => (new URL(r.url).pathname === "/ok" ? new Response("ok") : new Response("broken", { status: 503 })) });
  gate = join(mkdtempSync(join(tmpdir(), "opskit-dashboard-")), "gate");
  server = await startServe(writeConfig(config()));
  if (!server.token) throw new Error(`opskit serve wrote no token file:\n${server.output()}`);
  browser = await launchChromium();
  shots = screenshotDir("dashboard");
});

afterAll(async () => {
  await browser?.close();
  if (server && server.child.exitCode === null) await server.kill();
  endpoints?.stop(true);
});

describe("the dashboard in Chromium", () => {
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let incidentId: number;
  let runId: string;

  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
    ({ page, watch } = await openPage(context));
  });
  afterAll(async () => {
    await context?.close();
    // Lets the remediation finish even when a test above failed before it did.
    writeFileSync(gate, "");
  });

  test("is served at / under a strict CSP, and without a token says the API refused it (401) and offers the token field", async () => {
    const response = await page.goto(`${server.url}/`);
    const csp = response!.headers()["content-security-policy"] ?? "";
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]) expect(csp).toContain(directive);
    expect(csp).not.toContain("unsafe-inline");
    await until(page, bodyHas("Not authorized (401)"), "the 401 notice");
    expect(await page.isVisible("#token-input")).toBe(true);
    expect(await page.getAttribute("#token-input", "type")).toBe("password");
  });

  test("with the token, an alert posted to the webhook appears on Now without a reload, waiting for approval", async () => {
    await useToken(page, server.token!);
    expect(await page.evaluate("sessionStorage.getItem('opskit.token')")).toBe(server.token!);
    expect(await page.evaluate("document.cookie")).toBe("");
    await page.evaluate("window.__sameDocument = true");
    expect((await fire({ alertname: "DiskFull", host: "db-1", severity: "page" }, { summary: "disk 95% full on db-1" })).status).toBe(200);
    await until(page, `[...document.querySelectorAll(".incident-card")].some((c) => c.textContent.includes("DiskFull") && c.textContent.includes("awaiting approval"))`, "the incident card waiting for approval");
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    const open = await server.get("/api/v1/incidents?status=open");
    incidentId = open.incidents.find((i: { title: string }) => i.title === "DiskFull").id;
    expect(incidentId).toBeGreaterThan(0);
  });

  test("Tab reaches Approve and Enter approves: the remediation starts", async () => {
    await page.evaluate("document.activeElement?.blur(); window.scrollTo(0, 0)");
    let focused = "";
    for (let i = 0; i < 60 && focused !== `approve-${incidentId}`; i++) {
      await page.keyboard.press("Tab");
      focused = String(await page.evaluate("document.activeElement?.dataset?.key ?? ''"));
    }
    expect(focused).toBe(`approve-${incidentId}`);
    // Focus is visible: the focused button draws an outline.
    expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).not.toBe("none");
    await page.keyboard.press("Enter");
    const view = await server.waitFor(`/api/v1/incidents/${incidentId}`, (v) => v.attempts[0]?.runId && v);
    runId = view.attempts[0].runId;
    await until(page, bodyHas(`Incident ${incidentId} approved`), "the approval to be announced");
  });

  test("the run's page follows its output live and shows the run complete", async () => {
    await page.click(`a[href="#/incidents/${incidentId}"]`);
    await until(page, `document.querySelector('a[href="#/runs/${runId}"]') !== null`, "the incident page to list the run");
    await page.click(`a[href="#/runs/${runId}"]`);
    await until(page, `(document.querySelector(".output-log")?.textContent ?? "").includes(${JSON.stringify(hostileOutput)}) && document.querySelector(".view-run .head-state .badge")?.textContent === "running"`, "output lines while the run is running");
    const lines = Number(await page.evaluate(`document.querySelectorAll(".output-log .line").length`));
    expect(lines).toBeGreaterThanOrEqual(31);
    expect(lines).toBeLessThanOrEqual(500);
    // Every line arrived once and in order, the hostile one as text.
    const shown = String(await page.evaluate(`[...document.querySelectorAll(".output-log .line")].map((l) => l.textContent).join("\\n")`));
    expect(shown).toContain(Array.from({ length: 30 }, (_, i) => `line ${i + 1} of the fix`).join("\n"));
    await page.screenshot({ path: join(shots, "run-live-light.png"), fullPage: true });
    writeFileSync(gate, "");
    await until(page, `/line 40 of the fix/.test(document.querySelector(".output-log")?.textContent ?? "") && document.querySelector(".view-run .head-state .badge")?.textContent === "succeeded"`, "the last line and the run's success");
    const all = String(await page.evaluate(`[...document.querySelectorAll(".output-log .line")].map((l) => l.textContent).join("\\n")`));
    expect(all).toContain(Array.from({ length: 40 }, (_, i) => `line ${i + 1} of the fix`).join("\n").replace("line 31", `${hostileOutput}\nline 31`));
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    // Followed in the same document: no reload brought the lines.
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    // The download has the whole output, read with the token (a link could not send it).
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-key="download-output"]')]);
    const saved = await Bun.file((await download.path())!).text();
    expect(saved).toContain(`==> local · main 0 clean · stdout <==\n`);
    expect(saved).toContain(Array.from({ length: 40 }, (_, i) => `line ${i + 1} of the fix`).join("\n").replace("line 31", `${hostileOutput}\nline 31`));
    expect(watch.errors).toEqual([]);
  });

  test("without the token the actions are refused: the page says 401 and nothing changes", async () => {
    await page.evaluate(`location.hash = "#/incidents/${incidentId}"`);
    await until(page, `document.querySelector('[data-key="resolve-${incidentId}"]') !== null`, "the Resolve button");
    await page.click("text=Forget token");
    await until(page, bodyHas("No token: the API refuses reads and actions"), "the token to be forgotten");
    expect(await page.evaluate("sessionStorage.getItem('opskit.token')")).toBeNull();
    await page.click(`[data-key="resolve-${incidentId}"]`);
    await until(page, bodyHas(`Could not resolve incident ${incidentId}: Not authorized (401)`), "the 401 for Resolve");
    await page.click(".pause-toggle");
    await until(page, bodyHas("Could not pause remediation: Not authorized (401)"), "the 401 for Pause");
    expect(await page.evaluate(`document.querySelector(".notice")?.textContent ?? ""`)).toContain("Not authorized (401)");
    const view = await server.get(`/api/v1/incidents/${incidentId}`);
    expect(view.incident.status).toBe("open");
    expect(view.events.some((e: { message: string }) => /by hand/.test(e.message))).toBe(false);
    expect((await server.get("/api/v1/overview")).paused).toBe(false);
    await useToken(page, server.token!);
  });

  test("paused, every page says so in a banner with Resume, and Resume ends it", async () => {
    await page.click(".pause-toggle");
    await until(page, `document.querySelector(".banner-paused")?.textContent.includes("Automatic remediation is paused")`, "the paused banner");
    expect((await server.get("/api/v1/overview")).paused).toBe(true);
    await page.evaluate(`location.hash = "#/history"`);
    await until(page, `document.querySelector(".view-history") !== null && document.querySelector(".banner-paused") !== null`, "the banner on another page");
    expect(await seriousViolations(page)).toEqual([]);
    await page.click(".banner-paused button");
    await until(page, `document.querySelector(".banner-paused") === null`, "the banner to go");
    expect((await server.get("/api/v1/overview")).paused).toBe(false);
  });
});

describe("hostile alert text in Chromium", () => {
  const payloads = {
    title: `<script>window.__pwned='title'</script>`,
    label: `<img src=x onerror="window.__pwned='label'">`,
    labelLink: `javascript:window.__pwned='label-link'`,
    summary: `<a href="javascript:window.__pwned='a'">click</a><svg onload="window.__pwned='svg'"></svg>`,
    runbook: `javascript:window.__pwned='runbook'`,
    dashboard: "https://grafana.example.com/d/abc?from=now-1h",
  };

  test("labels, annotations and title are shown as text, links only when http(s), and nothing runs on Now, the incident and history", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const { page, watch } = await openPage(context, server.token!);
      expect((await fire({ alertname: payloads.title, service: payloads.label, link: payloads.labelLink }, { summary: payloads.summary, runbook_url: payloads.runbook, dashboard: payloads.dashboard })).status).toBe(200);
      const incident = await server.waitFor("/api/v1/incidents", (v) => v.incidents.find((i: { title: string }) => i.title === payloads.title));
      const visits: [route: string, ready: string][] = [
        ["#/", `[...document.querySelectorAll(".incident-card")].some((c) => c.textContent.includes(${JSON.stringify(payloads.title)}))`],
        [`#/incidents/${incident.id}`, `document.querySelector(".annotations") !== null`],
        ["#/history?kind=incidents", `document.querySelector(".data-table") !== null`],
      ];
      for (const [route, ready] of visits) {
        await page.evaluate(`location.hash = ${JSON.stringify(route)}`);
        await until(page, ready, `${route} to show the incident`);
        expect(String(await page.evaluate("document.body.innerText"))).toContain(payloads.title);
        if (route.startsWith("#/incidents/")) {
          const text = String(await page.evaluate("document.body.innerText"));
          for (const value of [payloads.label, payloads.labelLink, payloads.summary, payloads.runbook]) expect(text).toContain(value);
          expect(await page.getAttribute(`a[href="${payloads.dashboard}"]`, "rel")).toContain("noopener");
        }
        expect(await page.evaluate(`document.querySelectorAll('a[href^="javascript:" i], [href*="javascript:" i]').length`)).toBe(0);
        expect(await page.evaluate(`document.querySelectorAll("img, script:not([src]), svg[onload], [onerror], [onload], [onclick]").length`)).toBe(0);
        expect(await page.evaluate("window.__pwned")).toBeUndefined();
      }
      expect(watch.dialogs).toEqual([]);
      expect(watch.errors).toEqual([]);
      expect(await watch.cspViolations()).toEqual([]);
      expect(watch.console.filter((line) => /Content Security Policy/i.test(line))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe("accessibility and looks", () => {
  /** Each page, and what shows that it has loaded. */
  const pages = (incidentId: number, runId: string): [name: string, route: string, ready: string][] => [
    ["now", "#/", `document.querySelector(".incident-card") !== null`],
    ["checks", "#/checks", `document.querySelectorAll(".check-row").length === 2`],
    ["incident", `#/incidents/${incidentId}`, `document.querySelector(".timeline") !== null`],
    ["run", `#/runs/${runId}`, `document.querySelector(".batch-list") !== null && document.querySelectorAll(".output-log .line").length > 0`],
    ["history-runs", "#/history", `document.querySelector(".data-table") !== null`],
    ["history-incidents", "#/history?kind=incidents", `document.querySelector(".data-table") !== null`],
    ["mttr", "#/mttr", `document.querySelector(".headline") !== null`],
  ];
  const variants: [name: string, options: Parameters<Browser["newContext"]>[0]][] = [
    ["light", { viewport: { width: 1280, height: 900 }, colorScheme: "light" }],
    ["dark", { viewport: { width: 1280, height: 900 }, colorScheme: "dark" }],
    ["narrow", { viewport: { width: 390, height: 844 }, colorScheme: "light", isMobile: true, hasTouch: true }],
  ];

  for (const [variant, options] of variants) {
    test(`axe-core finds no serious or critical violation on any page (${variant}), and the screenshots are saved`, async () => {
      const incident = (await server.get("/api/v1/incidents")).incidents.find((i: { title: string }) => i.title === "DiskFull");
      expect(incident).toBeDefined();
      const runId = (await server.get(`/api/v1/incidents/${incident.id}`)).runs[0].id;
      const context = await browser.newContext(options);
      try {
        const { page, watch } = await openPage(context, server.token!);
        const found: Record<string, unknown> = {};
        for (const [name, route, ready] of pages(incident.id, runId)) {
          await page.evaluate(`location.hash = ${JSON.stringify(route)}`);
          await until(page, ready, `the ${name} page`);
          const violations = await seriousViolations(page);
          if (violations.length > 0) found[name] = violations;
          if (["now", "incident", "run"].includes(name)) await page.screenshot({ path: join(shots, `${name}-${variant}.png`), fullPage: true });
        }
        expect(found).toEqual({});
        expect(watch.errors).toEqual([]);
        expect(await watch.cspViolations()).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
