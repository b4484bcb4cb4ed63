import { describe, expect, test } from "bun:test";
import { hostileValues } from "../../test/harness/hostile.ts";
import type { CurrentJournal } from "./contract.ts";
import { openSampleIncident, t0 } from "./contract-incidents.ts";
import type { IncidentQuery, IncidentRecord, Journal, RunParams, RunQuery, RunRecord } from "./types.ts";

const params: RunParams = { configFiles: [], cwd: "/", vars: {}, dryRun: false };

/** Every page of a query, following `before` as a client follows its cursor; each page's total is the same. */
async function allIncidentPages(j: Journal, query: Omit<IncidentQuery, "before">): Promise<{ ids: number[]; totals: number[]; pages: number }> {
  const ids: number[] = [];
  const totals: number[] = [];
  let before: number | undefined;
  for (let pages = 1; ; pages++) {
    const page = await j.queryIncidents({ ...query, ...(before !== undefined ? { before } : {}) });
    ids.push(...page.incidents.map((i) => i.id));
    totals.push(page.total);
    expect(page.incidents.length).toBeLessThanOrEqual(query.limit);
    if (!page.more) return { ids, totals, pages };
    expect(page.incidents).toHaveLength(query.limit);
    before = page.incidents.at(-1)!.id;
  }
}

async function allRunPages(j: Journal, query: Omit<RunQuery, "after">): Promise<{ ids: string[]; totals: number[] }> {
  const ids: string[] = [];
  const totals: number[] = [];
  let after: RunQuery["after"];
  for (;;) {
    const page = await j.queryRuns({ ...query, ...(after ? { after } : {}) });
    ids.push(...page.runs.map((r) => r.id));
    totals.push(page.total);
    if (!page.more) return { ids, totals };
    const last = page.runs.at(-1)!;
    after = { startedAt: last.startedAt, id: last.id };
  }
}

interface Sample {
  incident: IncidentRecord;
  rule: string | undefined;
  started: number;
  service: string;
}

/** 150 incidents over three rules (and none), every third resolved, a service label each, started a minute apart. */
async function sampleIncidents(j: Journal): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let n = 0; n < 150; n++) {
    const rule = ["restart", "scale", "flush", undefined][n % 4];
    const service = `svc-${n % 7}`;
    const started = t0 + n * 60_000;
    const incident = await openSampleIncident(j, `fp-${n}`, {
      title: n % 5 === 0 ? "DiskFull" : "HighErrorRate",
      labels: { alertname: n % 5 === 0 ? "DiskFull" : "HighErrorRate", service, instance: `host-${n}.example:9100` },
      milestones: { started, detected: started + 10 },
      ...(rule ? { rule } : { rule: undefined }),
    });
    if (n % 3 === 0) await j.updateIncident(incident.id, { status: "resolved", resolution: "alert resolved" });
    samples.push({ incident, rule, started, service });
  }
  return samples;
}

/** Pages of incidents and runs filtered in SQL, gate facts, run summaries and step output. */
export function describeBrowseContract(journal: CurrentJournal): void {
  describe("history pages: incidents", () => {
    test("every filter combination pages through exactly the matching incidents, newest first, none twice, with the same total on every page", async () => {
      const j = journal();
      const samples = await sampleIncidents(j);
      const resolved = new Set(samples.filter((_, n) => n % 3 === 0).map((s) => s.incident.id));
      const cases: [Omit<IncidentQuery, "limit">, (s: Sample) => boolean][] = [
        [{}, () => true],
        [{ status: "open" }, (s) => !resolved.has(s.incident.id)],
        [{ status: "resolved" }, (s) => resolved.has(s.incident.id)],
        [{ rule: "scale" }, (s) => s.rule === "scale"],
        [{ rule: "scale", status: "resolved" }, (s) => s.rule === "scale" && resolved.has(s.incident.id)],
        [{ since: t0 + 30 * 60_000, until: t0 + 90 * 60_000 }, (s) => s.started >= t0 + 30 * 60_000 && s.started < t0 + 90 * 60_000],
        [{ text: "svc-3", status: "open" }, (s) => s.service === "svc-3" && !resolved.has(s.incident.id)],
        [{ text: "DISKFULL", since: t0 + 60 * 60_000 }, (s) => s.incident.title === "DiskFull" && s.started >= t0 + 60 * 60_000],
        [{ rule: "nothing" }, () => false],
        [{ ids: [samples[3]!.incident.id, samples[140]!.incident.id, 999_999], status: "open" }, (s) => [3, 140].some((n) => samples[n]!.incident.id === s.incident.id) && !resolved.has(s.incident.id)],
      ];
      for (const [filter, matches] of cases) {
        const expected = samples.filter(matches).map((s) => s.incident.id).sort((a, b) => b - a);
        for (const limit of [1, 7, 500]) {
          const { ids, totals, pages } = await allIncidentPages(j, { ...filter, limit });
          expect({ filter, limit, ids }).toEqual({ filter, limit, ids: expected });
          expect(new Set(totals)).toEqual(new Set([expected.length]));
          expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
        }
      }
    });

    test("a page holds the incident records as the journal keeps them", async () => {
      const j = journal();
      const incident = await openSampleIncident(j, "fp-page");
      await j.setMilestone(incident.id, "acknowledged", t0 + 99);
      const page = await j.queryIncidents({ limit: 10 });
      expect(page).toEqual({ incidents: [(await j.getIncident(incident.id))!], total: 1, more: false });
      expect(await j.queryIncidents({ limit: 10, before: incident.id })).toEqual({ incidents: [], total: 1, more: false });
    });

    test("text is found in the title, the fingerprint, a label's name or value, ASCII letters in either case; the JSON around labels is not text", async () => {
      const j = journal();
      const a = await openSampleIncident(j, "Checkout-Latency", { title: "SlowCheckout", labels: { alertname: "SlowCheckout", team: "Payments" } });
      const b = await openSampleIncident(j, "fp-b", { title: "Other", labels: { alertname: "Other", "Zone.Name": "eu-west", note: 'says "hi", {ok}: yes' } });
      const c = await openSampleIncident(j, "fp-c", { title: "Ümlaut", labels: { alertname: "Ümlaut", city: "MÜNCHEN" } });
      const found = async (text: string) => (await j.queryIncidents({ text, limit: 50 })).incidents.map((i) => i.id).sort((x, y) => x - y);
      expect(await found("checkout")).toEqual([a.id]);
      expect(await found("LATENCY")).toEqual([a.id]);
      expect(await found("payments")).toEqual([a.id]);
      expect(await found("zone.name")).toEqual([b.id]);
      expect(await found('"hi"')).toEqual([b.id]);
      expect(await found("{ok}: y")).toEqual([b.id]);
      expect(await found("München".toUpperCase())).toEqual([c.id]);
      // Beyond ASCII, case matters (as SQLite's lower() has it).
      expect(await found("münchen")).toEqual([]);
      // The characters JSON puts between names and values match only where a name or value has them.
      expect(await found(",")).toEqual([b.id]);
      expect(await found('":"')).toEqual([]);
      expect(await found("{")).toEqual([b.id]);
      expect(await found("alertname")).toEqual([a.id, b.id, c.id]);
      expect(await found("%")).toEqual([]);
      expect(await found("_")).toEqual([]);
    });

    test("a hostile label value is found by itself, as data, and by nothing else", async () => {
      const j = journal();
      // Lone surrogates are not kept by every journal (PostgreSQL's text is UTF-8); the rest are.
      const values = hostileValues.filter(({ value }) => value.length > 0 && value.length < 5000 && !/[\uD800-\uDFFF]/.test(value));
      const ids = new Map<string, number>();
      for (const [n, { name, value }] of values.entries()) {
        const incident = await openSampleIncident(j, `fp-hostile-${n}`, { title: `T${n}`, labels: { alertname: `T${n}`, payload: value } });
        ids.set(name, incident.id);
      }
      for (const [n, { name, value }] of values.entries()) {
        const page = await j.queryIncidents({ text: value, limit: 500 });
        // Other values may contain this one (a quote is in many); the incident itself is always among them, and every match contains it.
        expect({ name, found: page.incidents.some((i) => i.id === ids.get(name)) }).toEqual({ name, found: true });
        for (const incident of page.incidents) {
          const haystack = [incident.title, incident.fingerprint, ...Object.entries(incident.labels).flat()].join("\u0001");
          const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
          expect({ name, n, contains: lower(haystack).includes(lower(value)) }).toEqual({ name, n, contains: true });
        }
        expect(page.total).toBe(page.incidents.length);
      }
    });

    test("the target filter finds the incidents whose attempts' runs had that target", async () => {
      const j = journal();
      const [x, y, z] = [await openSampleIncident(j, "fp-x"), await openSampleIncident(j, "fp-y"), await openSampleIncident(j, "fp-z")];
      for (const [incident, runId, targets] of [[x, "run-x", ["web-1", "web-2"]], [y, "run-y", ["web-2"]], [z, "run-z", ["db-1"]]] as const) {
        await j.startRun({ id: runId, kind: "workflow", name: "restart", params });
        for (const target of targets) await j.putTarget({ runId, target, batch: 1, status: "ok", changed: false, rollbackOwed: false });
        await j.createAttempt({ incidentId: incident.id, attempt: 1, rule: "restart-checkout", fingerprint: incident.fingerprint, status: "succeeded", createdAt: t0, runId });
      }
      const found = async (target: string) => (await j.queryIncidents({ target, limit: 50 })).incidents.map((i) => i.id);
      expect(await found("web-2")).toEqual([y.id, x.id]);
      expect(await found("web-1")).toEqual([x.id]);
      expect(await found("db-1")).toEqual([z.id]);
      expect(await found("web-")).toEqual([]);
    });
  });

  describe("history pages: runs", () => {
    test("runs page by start then id, newest first, through ties of the same start, under every filter", async () => {
      const j = journal();
      const runs: { run: RunRecord; targets: string[]; trigger: string }[] = [];
      const scheduled = new Set<string>();
      for (let n = 0; n < 60; n++) {
        // Four runs per start time: the id decides their order.
        const startedAt = new Date(t0 + Math.floor(n / 4) * 1000).toISOString();
        const kind = n % 4;
        const trigger = kind === 0 ? { trigger: { incident: n, attempt: 1 + (n % 2), rule: "r" } } : kind === 1 ? { trigger: { incident: n, attempt: 0, rule: "r" } } : {};
        const id = `run-${String((n * 37) % 60).padStart(2, "0")}`;
        const run = await j.startRun({ id, kind: "workflow", name: n % 3 === 0 ? "restart" : "deploy", params: { ...params, ...trigger }, startedAt });
        if (kind === 2) {
          await j.claimScheduleFire({ schedule: "deploy", at: t0 + n, firedAt: t0 + n, replica: "r1", status: "running", runId: id });
          scheduled.add(id);
        }
        if (n % 5 === 0) await j.finishRun(id, "failed", {});
        else if (n % 5 === 1) await j.finishRun(id, "succeeded", {});
        const targets = n % 2 === 0 ? ["web-1"] : ["web-2", "db-1"];
        for (const target of targets) await j.putTarget({ runId: id, target, batch: 1, status: "ok", changed: false, rollbackOwed: false });
        runs.push({ run: { ...run, status: n % 5 === 0 ? "failed" : n % 5 === 1 ? "succeeded" : "running" }, targets, trigger: ["remediation", "escalation", "schedule", "manual"][kind]! });
      }
      const order = (a: RunRecord, b: RunRecord) => (a.startedAt === b.startedAt ? (a.id < b.id ? 1 : -1) : a.startedAt < b.startedAt ? 1 : -1);
      const cases: [Omit<RunQuery, "limit">, (r: (typeof runs)[number]) => boolean][] = [
        [{}, () => true],
        [{ status: "failed" }, (r) => r.run.status === "failed"],
        [{ workflow: "restart" }, (r) => r.run.name === "restart"],
        [{ target: "db-1" }, (r) => r.targets.includes("db-1")],
        [{ trigger: "remediation" }, (r) => r.trigger === "remediation"],
        [{ trigger: "escalation" }, (r) => r.trigger === "escalation"],
        [{ trigger: "schedule" }, (r) => scheduled.has(r.run.id)],
        [{ trigger: "manual" }, (r) => r.trigger === "manual"],
        [{ since: t0 + 3000, until: t0 + 9000, status: "running" }, (r) => Date.parse(r.run.startedAt) >= t0 + 3000 && Date.parse(r.run.startedAt) < t0 + 9000 && r.run.status === "running"],
        [{ ids: ["run-03", "run-59", "nope"] }, (r) => ["run-03", "run-59"].includes(r.run.id)],
      ];
      for (const [filter, matches] of cases) {
        const expected = runs.filter(matches).map((r) => r.run).sort(order).map((r) => r.id);
        for (const limit of [1, 3, 500]) {
          const { ids, totals } = await allRunPages(j, { ...filter, limit });
          expect({ filter, limit, ids }).toEqual({ filter, limit, ids: expected });
          expect(new Set(totals)).toEqual(new Set([expected.length]));
        }
      }
      const first = await j.queryRuns({ limit: 2 });
      expect(first.runs).toEqual(await Promise.all(first.runs.map(async (r) => (await j.getRun(r.id))!.run)));
    });
  });

  describe("history views", () => {
    test("gate facts are each incident's attempts and its latest gate decision and escalation lines", async () => {
      const j = journal();
      const [a, b, c] = [await openSampleIncident(j, "fp-ga"), await openSampleIncident(j, "fp-gb"), await openSampleIncident(j, "fp-gc")];
      await j.createAttempt({ incidentId: a.id, attempt: 1, rule: "r", fingerprint: "fp-ga", status: "failed", createdAt: t0 });
      await j.createAttempt({ incidentId: a.id, attempt: 2, rule: "r", fingerprint: "fp-ga", status: "awaiting_approval", createdAt: t0 + 5 });
      await j.addIncidentEvent(a.id, { at: t0 + 1, kind: "gate", message: "suppressed: cooldown, 1m left", data: { gate: "cooldown", until: t0 + 60_001 } });
      await j.addIncidentEvent(a.id, { at: t0 + 2, kind: "gate", message: "approved: attempt 1" });
      await j.addIncidentEvent(a.id, { at: t0 + 3, kind: "gate", message: "waiting: approval required", data: { gate: "approval", rule: "r" } });
      await j.addIncidentEvent(a.id, { at: t0 + 4, kind: "run", message: "attempt 2 started", data: {} });
      await j.addIncidentEvent(b.id, { at: t0 + 1, kind: "escalation", message: "escalated: maxAttempts 1 reached" });
      await j.addIncidentEvent(b.id, { at: t0 + 2, kind: "escalation", message: "escalation sent: ok", data: { runId: "run-e" } });
      const facts = await j.gateFacts([a.id, b.id, c.id, 999_999]);
      expect([...facts.keys()].sort()).toEqual([a.id, b.id].sort());
      expect(facts.get(a.id)!.attempts.map((x) => [x.attempt, x.status])).toEqual([[1, "failed"], [2, "awaiting_approval"]]);
      expect(facts.get(a.id)!.gate).toMatchObject({ incidentId: a.id, kind: "gate", message: "waiting: approval required", data: { gate: "approval", rule: "r" }, at: t0 + 3 });
      expect(facts.get(a.id)!.escalation).toBeUndefined();
      expect(facts.get(b.id)).toEqual({ attempts: [], escalation: expect.objectContaining({ message: "escalation sent: ok", data: { runId: "run-e" } }) });
      expect(await j.gateFacts([])).toEqual(new Map());
    });

    test("a run summary has the run, its targets and its steps with the size of their output in bytes, not the output", async () => {
      const j = journal();
      await j.startRun({ id: "run-s", kind: "workflow", name: "deploy", params, startedAt: "2026-11-25T12:00:00.000Z" });
      await j.putTarget({ runId: "run-s", target: "web-1", batch: 1, status: "ok", changed: true, rollbackOwed: false, durationMs: 5 });
      const base = { runId: "run-s", target: "web-1", phase: "main" as const, name: "say", action: "exec", status: "ok" as const, exitCode: 0, durationMs: 3, attempts: 1, startedAt: "2026-11-25T12:00:00.500Z" };
      await j.putStep({ ...base, index: 0, stdout: "héllo\n", stderr: "€" });
      await j.putStep({ ...base, index: 1, stdout: "x".repeat(70_000), stderr: "", status: "failed", exitCode: 2, error: "exit status 2" });
      const summary = await j.runSummary("run-s");
      const full = (await j.getRun("run-s"))!;
      expect(summary!.run).toEqual(full.run);
      expect(summary!.targets).toEqual(full.targets);
      expect(summary!.steps).toEqual([
        { runId: "run-s", target: "web-1", phase: "main", index: 0, name: "say", action: "exec", status: "ok", exitCode: 0, durationMs: 3, attempts: 1, startedAt: base.startedAt, stdoutBytes: 7, stderrBytes: 3 },
        { runId: "run-s", target: "web-1", phase: "main", index: 1, name: "say", action: "exec", status: "failed", exitCode: 2, durationMs: 3, attempts: 1, startedAt: base.startedAt, stdoutBytes: 70_000, stderrBytes: 0, error: "exit status 2" },
      ]);
      expect(await j.runSummary("nothing")).toBeUndefined();
      expect((await j.runTargets(["run-s", "nothing"])).get("run-s")).toEqual(full.targets);
      expect(await j.stepOutput("run-s", "web-1", "main", 0)).toEqual({ stdout: "héllo\n", stderr: "€" });
      expect(await j.stepOutput("run-s", "web-1", "main", 7)).toBeUndefined();
      // A step recorded again (a retried run's step) reads as its latest result.
      await j.putStep({ ...base, index: 0, stdout: "again", stderr: "" });
      expect(await j.stepOutput("run-s", "web-1", "main", 0)).toEqual({ stdout: "again", stderr: "" });
    });
  });
}
