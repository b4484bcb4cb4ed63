// Anchor: opskit's silences hold the same alerts as Alertmanager's. A real
// Alertmanager (Debian's prometheus-alertmanager) gets each silence from
// `amtool silence add` and the alerts on its API; the built opskit gets the
// same silences from `opskit silence add` and the same alerts on its
// webhook. The alerts Alertmanager reports silenced (/api/v2/alerts,
// status.silencedBy) are exactly those whose incidents opskit holds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compileRegex } from "../src/heal/silences.ts";
import { builtBinary, runBuilt } from "./harness/binary.ts";
import { refusedPort } from "./harness/net.ts";
import { startAlertmanager, type TestServer } from "./harness/prometheus.ts";
import { startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

const AMTOOL = "/usr/bin/amtool";

interface Row {
  /** The silence as amtool takes it (one matcher an argument). */
  amtool: string[];
  /** The same silence as given to opskit (default: the same arguments). */
  opskit?: string[];
  /** Alerts' labels beside alertname and case; which the silence holds is what is compared. */
  alerts: Record<string, string>[];
}

// Each row's silence also names its case, so rows do not silence each other's alerts.
const table: Row[] = [
  { amtool: ['service=~"api.*"'], alerts: [{ service: "api-1" }, { service: "api" }, { service: "myapi" }, {}] },
  { amtool: ['service!~"api|web"'], alerts: [{ service: "api" }, { service: "db" }, { service: "apiweb" }, {}] },
  { amtool: ['env!="prod"'], alerts: [{ env: "prod" }, { env: "dev" }, {}] },
  { amtool: ['team=""'], alerts: [{}, { team: "core" }] },
  { amtool: ['team!=""'], alerts: [{}, { team: "core" }] },
  { amtool: ['msg="a, \\"b\\""'], alerts: [{ msg: 'a, "b"' }, { msg: "a, b" }, { msg: 'a, \\"b\\"' }] },
  { amtool: ['instance=~"10\\\\.0\\\\.0\\\\.[0-9]+:9100"'], alerts: [{ instance: "10.0.0.12:9100" }, { instance: "10.0.0.12:91000" }, { instance: "10x0.0.1:9100" }] },
  { amtool: ['job=~"node|blackbox"', 'severity!~"info|debug"'], opskit: ['{job=~"node|blackbox", severity!~"info|debug"}'], alerts: [{ job: "node", severity: "page" }, { job: "node", severity: "info" }, { job: "nodex" }, { job: "blackbox" }] },
  { amtool: ['path=~"/a/.*"'], alerts: [{ path: "/a/x\ry" }, { path: "/a/x\ny" }, { path: "/b/a/" }] },
  { amtool: ['service=~"(?i)API.*"'], alerts: [{ service: "api-1" }, { service: "Api" }, { service: "web" }] },
  { amtool: ['name=~"é."', 'zone=~"[a-c]\\\\s?z"'], alerts: [{ name: "éx", zone: "b z" }, { name: "éx", zone: "bz" }, { name: "ex", zone: "az" }, { name: "éx", zone: "b\u00a0z" }] },
  { amtool: ['note="comma,inside"', "x=1"], alerts: [{ note: "comma,inside", x: "1" }, { note: "comma", x: "1" }] },
  { amtool: ['word=~"[[:alpha:]]+\\\\d"'], alerts: [{ word: "abc1" }, { word: "ab-1" }, { word: "é1" }] },
  { amtool: ['g=~"\\\\p{Greek}+|(a+)+b"'], alerts: [{ g: "λμ" }, { g: "aaab" }, { g: "aaaa" }, { g: "λa" }] },
  { amtool: ['q=~"(?s)x.y|\\\\Q*+\\\\E|\\\\bw\\\\b.*"'], alerts: [{ q: "x\ny" }, { q: "*+" }, { q: "x" }, { q: "w z" }, { q: "wz" }] },
];

let alertmanager: TestServer;
let server: ServeProcess;

beforeAll(async () => {
  // Its receiver is a port nobody listens on: only its API's view of the alerts matters here.
  alertmanager = await startAlertmanager({ webhookUrl: `http://127.0.0.1:${await refusedPort()}/`, resolveTimeoutSec: 3600 });
  const dir = writeConfig(`
workflows:
  fix:
    targets: local
    steps:
      - exec: "true"
rules:
  - name: all
    matchRe: { alertname: ".+" }
    run: fix
`);
  server = await startServe(dir, { executable: await builtBinary(), args: ["--dry-run"] });
}, 120_000);

afterAll(async () => {
  await alertmanager?.stop();
  if (server?.child.exitCode === null) await server.kill();
});

function amtool(args: string[]): { code: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync([AMTOOL, `--alertmanager.url=${alertmanager.url}`, ...args], { timeout: 30_000 });
  return { code: result.exitCode ?? -1, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

describe("silences against Alertmanager", () => {
  test("the alerts Alertmanager reports silenced are the alerts whose incidents opskit holds, and by the same silence", async () => {
    expect(await Bun.file(AMTOOL).exists()).toBe(true);
    const amIds = new Map<string, number>();
    const opskitIds = new Map<string, number>();
    const alerts: Record<string, string>[] = [];
    for (const [i, row] of table.entries()) {
      const caseMatcher = `case="${i}"`;
      const am = amtool(["silence", "add", "--comment=anchor", "--duration=1h", caseMatcher, ...row.amtool]);
      expect({ row: i, ...am }).toMatchObject({ row: i, code: 0 });
      amIds.set(am.stdout.trim(), i);
      const ours = await runBuilt(["silence", "add", caseMatcher, ...(row.opskit ?? row.amtool), "--for", "1h", "--comment", "anchor"], { env: { OPSKIT_SERVER: server.url, OPSKIT_TOKEN: server.token! } });
      expect({ row: i, code: ours.code, stderr: ours.stderr }).toEqual({ row: i, code: 0, stderr: "" });
      opskitIds.set(ours.stdout.trim(), i);
      for (const labels of row.alerts) alerts.push({ alertname: "Anchor", case: String(i), ...labels });
    }
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    const posted = await fetch(`${alertmanager.url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts.map((labels) => ({ labels, endsAt }))) });
    expect(posted.status).toBe(200);
    // opskit's generic webhook takes the same alerts, one notification.
    expect((await server.post("/api/v1/alerts", alerts.map((labels) => ({ labels })))).status).toBe(200);

    const amAlerts = (await (await fetch(`${alertmanager.url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { silencedBy: string[] } }[];
    expect(amAlerts).toHaveLength(alerts.length);
    const amSilenced = new Map(amAlerts.map((a) => [key(a.labels), a.status.silencedBy.map((id) => amIds.get(id))]));

    // Every incident has decided: a silence held it, or its dry run is recorded.
    const decided = await server.waitFor("/api/v1/incidents?limit=500", (v) => v.incidents.length === alerts.length && v);
    const ours = new Map<string, number[]>();
    for (const incident of decided.incidents) {
      const view = await server.waitFor(`/api/v1/incidents/${incident.id}`, (v) => v.events.some((e: any) => e.data?.gate === "silence" || e.data?.gate === "dryRun") && v);
      const held = view.events.find((e: any) => e.data?.gate === "silence");
      ours.set(key(incident.labels), held ? [opskitIds.get(held.data.silenceId)!] : []);
    }
    const silencedIn = (m: Map<string, (number | undefined)[]>) => [...m].filter(([, by]) => by.length > 0).map(([k, by]) => `${k} by row ${by.join(",")}`).sort();
    expect(silencedIn(ours)).toEqual(silencedIn(amSilenced));
    // The table is worth something: some alerts of every row are silenced, and some are not.
    expect(silencedIn(ours).length).toBeGreaterThan(table.length);
    expect(silencedIn(ours).length).toBeLessThan(alerts.length);
  }, 120_000);

  test("a silence whose every matcher matches the empty string is refused by both", async () => {
    for (const matchers of [['team=""'], ['x=~".*"', 'y=""'], ['x=~"a*"']]) {
      const am = amtool(["silence", "add", "--comment=anchor", "--duration=1h", ...matchers]);
      expect(am.code).not.toBe(0);
      expect(am.stderr).toContain("at least one matcher must not match the empty string");
      const ours = await runBuilt(["silence", "add", ...matchers, "--comment", "anchor"], { env: { OPSKIT_SERVER: server.url, OPSKIT_TOKEN: server.token! } });
      expect(ours.code).toBe(64);
      expect(ours.stderr).toContain("at least one matcher must not match the empty string");
    }
    // A pattern RE2 does not have is refused by both.
    for (const matcher of ['x=~"(?=a)b"', 'x=~"(a)\\\\1"', 'x=~"a**"']) {
      expect({ matcher, code: amtool(["silence", "add", "--comment=anchor", "--duration=1h", matcher]).code }).toEqual({ matcher, code: 1 });
      expect({ matcher, code: (await runBuilt(["silence", "add", matcher, "--comment", "anchor"], { env: { OPSKIT_SERVER: server.url, OPSKIT_TOKEN: server.token! } })).code }).toEqual({ matcher, code: 64 });
    }
    // And accepted by both: a negative matcher alone (Alertmanager counts it as not matching the empty string).
    expect(amtool(["silence", "add", "--comment=anchor", "--duration=1h", 'zzz!=""']).code).toBe(0);
    expect((await runBuilt(["silence", "add", 'zzz!=""', "--comment", "anchor"], { env: { OPSKIT_SERVER: server.url, OPSKIT_TOKEN: server.token! } })).code).toBe(0);
  }, 60_000);

  test("generated regular expressions match generated values as Alertmanager's do (property, Alertmanager as the oracle)", async () => {
    // RE2 syntax over a small alphabet, so that values often match.
    const atom = fc.constantFrom("a", "b", ".", "[ab]", "[^a]", "\\w", "\\s", "[[:upper:]]", "\\pL", "(?i:A)", "\\x61", " ", "é");
    const regex = fc.letrec<{ re: string }>((tie) => ({
      re: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        atom,
        fc.tuple(tie("re"), tie("re")).map(([x, y]) => `${x}${y}`),
        fc.tuple(tie("re"), tie("re")).map(([x, y]) => `${x}|${y}`),
        fc.tuple(tie("re"), fc.constantFrom("*", "+", "?", "{1,2}", "{2}", "*?")).map(([x, q]) => `(${x})${q}`),
        tie("re").map((x) => `^${x}$`),
        tie("re").map((x) => `\\b${x}`),
      ),
    })).re;
    const value = fc.stringMatching(/^[abAB é\t]{0,6}$/);
    const cases = fc.sample(fc.tuple(regex, fc.array(value, { minLength: 4, maxLength: 4 })), { numRuns: 60, seed: 20261206 });
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    const alerts: Record<string, string>[] = [];
    const idToCase = new Map<string, number>();
    for (const [i, [re, values]] of cases.entries()) {
      const created = await fetch(`${alertmanager.url}/api/v2/silences`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ matchers: [{ name: "prop", value: String(i), isRegex: false, isEqual: true }, { name: "v", value: re, isRegex: true, isEqual: true }], startsAt: new Date().toISOString(), endsAt, createdBy: "property", comment: "property" }),
      });
      expect({ re, status: created.status }).toEqual({ re, status: 200 });
      idToCase.set(((await created.json()) as { silenceID: string }).silenceID, i);
      for (const [j, v] of [...new Set(values)].entries()) alerts.push({ alertname: "Property", prop: String(i), n: String(j), ...(v === "" ? {} : { v }) });
    }
    expect((await fetch(`${alertmanager.url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts.map((labels) => ({ labels, endsAt }))) })).status).toBe(200);
    const reported = ((await (await fetch(`${alertmanager.url}/api/v2/alerts?filter=alertname%3D%22Property%22`)).json()) as { labels: Record<string, string>; status: { silencedBy: string[] } }[]);
    expect(reported).toHaveLength(alerts.length);
    let silenced = 0;
    for (const alert of reported) {
      const i = Number(alert.labels.prop);
      const re = cases[i]![0];
      const am = alert.status.silencedBy.some((id) => idToCase.get(id) === i);
      silenced += am ? 1 : 0;
      expect({ re, value: alert.labels.v ?? "", silenced: compileRegex(re).test(alert.labels.v ?? "") }).toEqual({ re, value: alert.labels.v ?? "", silenced: am });
    }
    // Both outcomes occur often enough for the comparison to mean something.
    expect(silenced).toBeGreaterThanOrEqual(10);
    expect(alerts.length - silenced).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
