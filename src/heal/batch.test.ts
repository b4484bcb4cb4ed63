// The batch's fold of firing repeats (repeats.ts) against the path it
// shortens: applying each notification's alerts one by one with applyAlert,
// each notification in a savepoint of its own, as the healer did before. Both
// run the same notifications on journals of their own; the rows, timelines,
// events and incidents to reconsider must come out the same.
import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config/index.ts";
import { openJournal, type Journal } from "../journal/index.ts";
import type { Alert } from "./alert.ts";
import type { PendingNotification } from "./backlog.ts";
import { applyNotifications } from "./batch.ts";
import type { HealEvent } from "./events.ts";
import { applyAlert, lifecycleContext } from "./lifecycle.ts";
import { compileRules, type CompiledRule } from "./rules.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-batch-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const journals: Journal[] = [];
afterEach(async () => {
  for (const journal of journals.splice(0)) await journal.close();
});

async function rules(): Promise<CompiledRule[]> {
  writeFileSync(join(root, "opskit.yaml"), 'workflows:\n  fix:\n    targets: local\n    steps:\n      - exec: "true"\nrules:\n  - name: fix-it\n    match: { alertname: Broken }\n    run: fix\n');
  return compileRules(await loadConfig({ cwd: root, path: root }), 60_000);
}

async function fresh(): Promise<Journal> {
  const journal = await openJournal(join(mkdtempSync(join(root, "journal-")), "journal.db"));
  journals.push(journal);
  return journal;
}

const t0 = 1_764_072_000_000;
const alert = (fingerprint: string, status: "firing" | "resolved", startsAt: number, alertname = "Broken"): Alert => ({
  source: "generic", fingerprint, status, labels: { alertname, instance: fingerprint }, annotations: {}, startsAt, ...(status === "resolved" ? { endsAt: startsAt + 500 } : {}),
});

/** Firing, repeats, several alerts in one notification, a resolve, a late firing, a new episode, orphans, an unmatched alert. */
function notifications(): PendingNotification[][] {
  let id = 0;
  const n = (...alerts: Alert[]): PendingNotification => ({ id: ++id, source: "generic", receivedAt: t0 + id * 10, body: "", alerts });
  return [
    [n(alert("a", "firing", t0)), n(alert("a", "firing", t0)), n(alert("a", "firing", t0)), n(alert("b", "firing", t0)), n(alert("a", "firing", t0), alert("b", "firing", t0))],
    [n(alert("b", "firing", t0)), n(alert("a", "resolved", t0)), n(alert("a", "firing", t0)), n(alert("b", "firing", t0)), n(alert("a", "firing", t0 + 5000))],
    [n(alert("a", "firing", t0 + 5000)), n(alert("c", "resolved", t0)), n(alert("c", "resolved", t0)), n(alert("b", "firing", t0), alert("b", "resolved", t0)), n(alert("d", "firing", t0, "Other"))],
    [n(alert("d", "firing", t0, "Other")), n(alert("a", "firing", t0 + 5000), alert("a", "firing", t0 + 5000)), n(alert("b", "firing", t0 + 9000))],
    // A body nobody parsed that does not parse: skipped whole on both paths.
    [n(alert("a", "firing", t0 + 5000)), { id: ++id, source: "generic", receivedAt: t0 + id * 10, body: "{" }, n(alert("a", "firing", t0 + 5000))],
  ];
}

/** Each incident's trace id is random: both paths must give one, not the same one. */
function untraced<T extends object>(value: T): T {
  if (!("traceId" in value)) return value;
  expect(value.traceId).toMatch(/^[0-9a-f]{32}$/);
  return { ...value, traceId: "(a trace id)" };
}

/** What a journal holds about the fingerprints, incidents and their timelines. */
async function contents(journal: Journal) {
  const incidents = (await journal.listIncidents({ limit: 100 })).map(untraced);
  const timelines = await Promise.all(incidents.map((i) => journal.incidentEvents(i.id)));
  const states = await Promise.all(["a", "b", "c", "d"].map((fp) => journal.getAlertState(fp)));
  return { incidents, timelines, states };
}

/** Runs every batch in a transaction of its own, through `apply`; a sink may refuse the alert.received event numbered `failAt`. */
async function run(apply: (journal: Journal, batch: PendingNotification[], sinks: ((e: HealEvent) => void)[], skipped: (n: PendingNotification) => void) => Promise<Set<number>>, failAt?: number) {
  const journal = await fresh();
  const events: HealEvent[] = [];
  let received = 0;
  const sinks = [(event: HealEvent) => {
    if (event.type === "alert.received" && ++received === failAt) throw new Error("the sink refused it");
    events.push(untraced(event));
  }];
  const skipped: number[] = [];
  const reconsider: number[][] = [];
  for (const batch of notifications()) reconsider.push([...(await apply(journal, batch, sinks, (n) => skipped.push(n.id)))].sort());
  return { ...(await contents(journal)), events, skipped, reconsider };
}

test("folding firing repeats gives the rows, timelines, events and decisions of applying every alert one by one", async () => {
  const compiled = await rules();
  const oneByOne = (journal: Journal, batch: PendingNotification[], sinks: ((e: HealEvent) => void)[], skipped: (n: PendingNotification) => void) =>
    journal.transaction(async (tx) => {
      const reconsider = new Set<number>();
      for (const notification of batch) {
        try {
          await tx.transaction(async (savepoint) => {
            const ctx = lifecycleContext(savepoint, compiled, sinks);
            for (const a of notification.alerts ?? JSON.parse(notification.body)) {
              const id = await applyAlert(ctx, a, notification.receivedAt);
              if (id !== undefined) reconsider.add(id);
            }
          });
        } catch {
          skipped(notification);
        }
      }
      return reconsider;
    });
  const folded = (journal: Journal, batch: PendingNotification[], sinks: ((e: HealEvent) => void)[], skipped: (n: PendingNotification) => void) =>
    journal.transaction(async (tx) => (await applyNotifications(lifecycleContext(tx, compiled, sinks), batch, (store) => lifecycleContext(store, compiled, sinks), skipped)).reconsider);
  for (const failAt of [undefined, 2, 7, 9]) {
    const expected = await run(oneByOne, failAt);
    const actual = await run(folded, failAt);
    expect({ failAt, ...actual }).toEqual({ failAt, ...expected });
  }
  const plain = await run(folded);
  // The case is what it should be: repeats folded, a second episode, a notification skipped.
  expect(plain.incidents.find((i) => i.fingerprint === "a" && i.status === "open")!.notifications).toBe(6);
  expect(plain.incidents.filter((i) => i.fingerprint === "a")).toHaveLength(2);
  expect(plain.skipped).toEqual([20]);
});
