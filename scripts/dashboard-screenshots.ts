// Takes the README's dashboard screenshots from a real `opskit serve`: a
// dozen checks against local endpoints (two failing), a rule that remediates
// on its own and one that waits for approval, a few incidents; then Chromium
// photographs the Now, Health, incident and run pages, light and dark.
//   node_modules/.bin/bun scripts/dashboard-screenshots.ts [OUT_DIR]   (default docs/images)
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { launchChromium } from "../test/harness/browser.ts";
import { alertmanagerNotification, startServe, writeConfig } from "../test/harness/serve.ts";

const out = resolve(process.argv[2] ?? join(import.meta.dir, "../docs/images"));
mkdirSync(out, { recursive: true });

// Healthy answers quickly, with a little jitter so the sparklines have a shape; /down/* fails.
const endpoints = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const path = new URL(request.url).pathname;
    await Bun.sleep(2 + Math.random() * 30);
    return path.startsWith("/down/") ? new Response("unavailable", { status: 503 }) : new Response("ok");
  },
});
const base = `http://127.0.0.1:${endpoints.port}`;
const services = ["api", "auth", "billing", "catalog", "checkout", "search", "images", "mail", "queue", "reports"];
const checks = [
  ...services.map((s, i) => `  - name: ${s}-health
    probe: ${base}/${s}/health
    expect: ['status == 200']
    interval: 2s
    labels: { alertname: ${s[0]!.toUpperCase()}${s.slice(1)}Down, service: ${s}, group: ${i < 5 ? "storefront" : "backend"} }`),
  ...["ledger", "payments-gw"].map((s) => `  - name: ${s}-health
    probe: ${base}/down/${s}
    expect: ['status == 200']
    interval: 2s
    failureThreshold: 2
    labels: { alertname: ServiceDown, service: ${s}, group: backend, severity: critical }`),
].join("\n");

const yaml = `
checks:
${checks}
workflows:
  restart:
    targets: local
    steps:
      - name: restart
        exec: 'for i in 1 2 3 4 5 6; do echo "restarting {{ vars.service }}: step $i"; sleep 0.2; done'
      - name: check
        exec: 'echo "{{ vars.service }} answers again"'
rules:
  - name: restart-service
    match: { alertname: ServiceDown }
    run: restart
    vars: { service: '{{ alert.labels.service }}' }
    cooldown: 10m
    maxAttempts: 2
  - name: failover-db
    match: { alertname: DatabaseDown }
    run: restart
    vars: { service: '{{ alert.labels.service }}' }
    approval: true
`;

const server = await startServe(writeConfig(yaml));
const browser = await launchChromium();
try {
  await server.post(
    "/api/v1/alerts/alertmanager",
    alertmanagerNotification([
      { labels: { alertname: "DatabaseDown", service: "orders-db", severity: "critical", instance: "db-2:5432" }, annotations: { summary: "orders-db primary is not accepting connections" } },
      { labels: { alertname: "DiskFilling", service: "logs", severity: "warning", instance: "log-1:9100" }, annotations: { summary: "/var/log 91% full, 6h to full at the current rate" } },
    ]),
  );
  // The failing checks fire, their rule runs, and their incidents wait out the cooldown.
  const incidents = await server.waitFor("/api/v1/incidents?limit=50", (v) => (v.incidents?.filter((i: any) => i.attempts > 0).length >= 2 ? v.incidents : undefined), 60_000);
  const remediated = incidents.find((i: any) => i.rule === "restart-service");
  const view = await server.waitFor(`/api/v1/incidents/${remediated.id}`, (v) => (v.attempts?.[0]?.status === "succeeded" ? v : undefined), 60_000);
  const runId: string = view.attempts[0].runId;
  await Bun.sleep(6_000); // a few more results per check for the uptime bars and sparklines

  for (const scheme of ["light", "dark"] as const) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: scheme });
    await context.addInitScript(`sessionStorage.setItem("opskit.token", ${JSON.stringify(server.token)})`);
    const page = await context.newPage();
    page.on("crash", () => console.error(`the page crashed (${scheme})`));
    const shots: [string, string][] = [
      ["now", "/#/"],
      ["health", "/#/checks"],
      ["incident", `/#/incidents/${remediated.id}`],
      ["run", `/#/runs/${runId}`],
    ];
    for (const [name, path] of shots) {
      await page.goto(`${server.url}${path}`);
      // The event stream keeps the network busy, so "network idle" never comes: the page's heading, then a moment for the data.
      await page.waitForSelector("main h1", { timeout: 15_000 });
      await Bun.sleep(2_000);
      await page.screenshot({ path: join(out, `dashboard-${name}-${scheme}.png`) });
      console.log(`wrote ${join(out, `dashboard-${name}-${scheme}.png`)}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
  await server.stop();
  endpoints.stop(true);
}
