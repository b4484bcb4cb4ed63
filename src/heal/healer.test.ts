import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config/index.ts";
import { openJournal, type Journal } from "../journal/index.ts";
import type { HealEvent } from "./events.ts";
import { Healer } from "./healer.ts";
import { applyAlert, lifecycleContext } from "./lifecycle.ts";
import { compileRules, type CompiledRule } from "./rules.ts";

// The dedupe guarantee must not rest on the event loop: with a journal whose
// every call yields to other work first (as a database over the network
// does), two decisions about one fingerprint interleave step by step, and
// still only one incident opens and one attempt starts.

const root = mkdtempSync(join(tmpdir(), "opskit-healer-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** The journal, each call (a transaction's start too) answered only after a turn of the event loop. */
function interleaving(journal: Journal): Journal {
  return new Proxy(journal, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== "function" || name === "close") return value;
      return async (...args: unknown[]) => {
        await new Promise((resolve) => setImmediate(resolve));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function setup(rule: string, command = "true"): Promise<{ journal: Journal; healer: Healer; rules: CompiledRule[]; events: HealEvent[] }> {
  const dir = mkdtempSync(join(root, "case-"));
  writeFileSync(
    join(dir, "opskit.yaml"),
    `workflows:
  fix:
    targets: local
    steps:
      - name: fix
        exec: "${command}"
rules:
  - name: fix-it
    match: { alertname: Broken }
    run: fix
    cooldown: 0s
${rule}
`,
  );
  const loaded = await loadConfig({ cwd: dir, path: dir });
  const real = await openJournal(join(dir, "journal.db"));
  const journal = interleaving(real);
  const events: HealEvent[] = [];
  const rules = await compileRules(loaded, 60_000);
  const healer = new Healer({ loaded, journal, rules, dryRun: false, maxConcurrentRemediations: 4, staleAfterMs: 3_600_000, defaultTimeoutMs: 60_000, sinks: [(event) => events.push(event)] });
  stops.push(() => real.close(), () => healer.drain(5_000));
  return { journal, healer, rules, events };
}

const firing = (startsAt: number) => ({ source: "generic", fingerprint: "fp-broken", status: "firing" as const, labels: { alertname: "Broken" }, annotations: {}, startsAt });
const ofType = <T extends HealEvent["type"]>(events: HealEvent[], type: T) => events.filter((e): e is Extract<HealEvent, { type: T }> => e.type === type);

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(20);
  }
}

describe("two concurrent decisions about one fingerprint", () => {
  test("two firing notifications applied at once open one incident; the other counts as a repeat", async () => {
    const { journal, rules, events } = await setup("");
    const ctx = lifecycleContext(journal, rules, [(event) => events.push(event)]);
    const now = Date.now();
    const applied = await Promise.all([applyAlert(ctx, firing(now), now), applyAlert(ctx, firing(now), now + 1)]);
    const open = await journal.listIncidents({ status: "open" });
    expect(open).toHaveLength(1);
    expect(open[0]!.notifications).toBe(2);
    // Both name the incident for a decision (it has a rule); the decision itself dedupes.
    expect(applied).toEqual([open[0]!.id, open[0]!.id]);
    expect(ofType(events, "alert.received").map((e) => e.outcome).sort()).toEqual(["opened", "repeat"]);
    expect(ofType(events, "incident.opened")).toHaveLength(1);
  });

  test("two evaluations at once create one attempt and start one run", async () => {
    const { journal, healer, events } = await setup("");
    await healer.setPaused(true);
    await healer.accept("generic", JSON.stringify({ labels: { alertname: "Broken" } }));
    await healer.processPending();
    const [incident] = await journal.listIncidents({ status: "open" });
    expect(await journal.attempts(incident!.id)).toEqual([]);
    await journal.putSetting("paused", undefined);
    await Promise.all([healer.evaluate(incident!.id), healer.evaluate(incident!.id)]);
    await until(async () => (await journal.attempts(incident!.id))[0]?.status === "succeeded", "the attempt to succeed");
    expect(await journal.attempts(incident!.id)).toHaveLength(1);
    expect(ofType(events, "remediation.started")).toHaveLength(1);
    expect(ofType(events, "heal.error")).toEqual([]);
  });

  test("two approvals at once start the attempt once; the second is told there is nothing to approve", async () => {
    const { journal, healer, events } = await setup("    approval: true");
    await healer.accept("generic", JSON.stringify({ labels: { alertname: "Broken" } }));
    await healer.processPending();
    const [incident] = await journal.listIncidents({ status: "open" });
    const id = incident!.id;
    await Promise.all([healer.evaluate(id), healer.evaluate(id)]);
    expect((await journal.attempts(id)).map((a) => a.status)).toEqual(["awaiting_approval"]);
    const outcomes = await Promise.allSettled([healer.approve(id), healer.approve(id)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult).reason.code).toBe("E_NOTHING_TO_APPROVE");
    await until(async () => (await journal.attempts(id))[0]?.status === "succeeded", "the approved attempt to succeed");
    expect(await journal.attempts(id)).toHaveLength(1);
    expect(ofType(events, "remediation.started")).toHaveLength(1);
    expect(ofType(events, "remediation.approved")).toHaveLength(1);
    expect(ofType(events, "heal.error")).toEqual([]);
  });
});

describe("repeats while an attempt is under way", () => {
  test("record its dedupe once for each status of the attempt, not once per notification", async () => {
    const { journal, healer, events } = await setup("", "sleep 1");
    const notify = async () => {
      await healer.accept("generic", JSON.stringify({ labels: { alertname: "Broken" } }));
      await healer.processPending();
    };
    await notify();
    const [incident] = await journal.listIncidents({ status: "open" });
    await until(async () => (await journal.attempts(incident!.id))[0]?.status === "running", "the attempt to run");
    for (let i = 0; i < 5; i++) await notify();
    const dedupes = ofType(events, "incident.gate").filter((e) => e.gate === "dedupe");
    expect(dedupes.map((e) => e.reason)).toEqual(["deduplicated: attempt 1 is running"]);
    expect((await journal.getIncident(incident!.id))!.notifications).toBe(6);
    await until(async () => (await journal.attempts(incident!.id))[0]?.status === "succeeded", "the attempt to succeed");
  });
});

describe("denying an attempt waiting for approval", () => {
  test("of an approval and a denial at once one wins; a denial rejects the attempt, says who and why, escalates, and nothing asks again", async () => {
    const marks = mkdtempSync(join(root, "marks-"));
    const { journal, healer, events } = await setup(`    approval: true\n    escalate:\n      - exec: "touch ${marks}/paged"`);
    await healer.accept("generic", JSON.stringify({ labels: { alertname: "Broken" } }));
    await healer.processPending();
    const [incident] = await journal.listIncidents({ status: "open" });
    const id = incident!.id;
    await until(async () => (await journal.attempts(id))[0]?.status === "awaiting_approval", "the attempt to wait for approval");
    const outcomes = await Promise.allSettled([healer.deny(id, "alice", "not during the sale"), healer.approve(id, "bob")]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    const refused = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
    if (outcomes[0]!.status === "fulfilled") {
      // The denial won.
      expect(refused.reason.code).toBe("E_NOTHING_TO_APPROVE");
      expect((await journal.attempts(id)).map((a) => [a.status, a.detail])).toEqual([["rejected", "denied by alice: not during the sale"]]);
      const lines = (await journal.incidentEvents(id)).map((e) => e.message);
      expect(lines).toContain("denied: attempt 1 by alice: not during the sale");
      expect(lines).toContain("escalated: attempt 1 was denied by alice: not during the sale");
      expect((await journal.getIncident(id))!).toMatchObject({ status: "open", escalated: true });
      await until(() => require("node:fs").existsSync(join(marks, "paged")), "the rule's escalation to run");
      // A repeat notification asks for no approval again: an escalated incident waits for people.
      await healer.accept("generic", JSON.stringify({ labels: { alertname: "Broken" } }));
      await healer.processPending();
      await healer.evaluate(id);
      expect((await journal.attempts(id)).map((a) => a.status)).toEqual(["rejected"]);
      expect(ofType(events, "remediation.denied")).toEqual([{ type: "remediation.denied", incidentId: id, rule: "fix-it", attempt: 1, by: "alice", reason: "not during the sale", at: expect.any(Number) }]);
    } else {
      // The approval won: the denial found nothing waiting.
      expect(refused.reason.code).toBe("E_NOTHING_TO_DENY");
      expect(ofType(events, "remediation.approved")[0]).toMatchObject({ by: "bob" });
      await until(async () => (await journal.attempts(id))[0]?.status === "succeeded", "the approved attempt to succeed");
    }
    await expect(healer.deny(id, "carol")).rejects.toMatchObject({ code: "E_NOTHING_TO_DENY" });
    await expect(healer.deny(9999, "carol")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  });
});
