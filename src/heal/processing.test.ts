import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config/index.ts";
import { openJournal, type Journal } from "../journal/index.ts";
import { openPostgresJournal } from "../journal/postgres.ts";
import type { Sink } from "../observe/index.ts";
import { createTestDatabase, type TestDatabase } from "../../test/harness/postgres.ts";
import type { HealEvent } from "./events.ts";
import { lifecycleContext } from "./lifecycle.ts";
import { alertsOf } from "./sources/index.ts";
import { NotificationProcessing } from "./processing.ts";
import { compileRules } from "./rules.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-processing-"));
const databases: TestDatabase[] = [];
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  for (const database of databases) await database.drop();
});
const journals: Journal[] = [];
afterEach(async () => {
  for (const journal of journals.splice(0)) await journal.close();
});

async function postgres(): Promise<Journal> {
  const database = await createTestDatabase();
  databases.push(database);
  return openPostgresJournal(database.url);
}

const config = 'workflows:\n  fix:\n    targets: local\n    steps:\n      - exec: "true"\nrules:\n  - name: fix-it\n    match: { alertname: Broken }\n    run: fix\n';
const sqlite = async () => openJournal(join(mkdtempSync(join(root, "journal-")), "journal.db"));

/** Firing notifications (20 over 5 fingerprints unless `bodies` says), committed and handed over; processed in slices of `sliceMs`. */
async function process(sliceMs: number | undefined, options: { open?: () => Promise<Journal>; bodies?: string[]; sinks?: Sink<HealEvent>[] } = {}) {
  writeFileSync(join(root, "opskit.yaml"), config);
  const rules = await compileRules(await loadConfig({ cwd: root, path: root }), 60_000);
  const journal = await (options.open ?? sqlite)();
  journals.push(journal);
  const decided: number[] = [];
  const processed: number[] = [];
  const skipped: number[] = [];
  let rolledBack = 0;
  const processing = new NotificationProcessing({
    journal,
    context: (store) => lifecycleContext(store, rules, options.sinks ?? []),
    decide: async (_ctx, id) => void decided.push(id),
    processed: async (count) => void processed.push(count),
    rolledBack: () => void rolledBack++,
    skipped: (notification, error) => {
      if (!options.sinks) throw new Error(`notification ${notification.id} skipped: ${String(error)}`);
      skipped.push(notification.id);
    },
    ...(sliceMs === undefined ? {} : { sliceMs }),
  });
  // At start the backlog reads the journal; after that, what is handed over.
  await processing.backlog.next();
  const receivedAt = Date.now();
  const bodies = options.bodies ?? Array.from({ length: 20 }, (_, i) => JSON.stringify({ labels: { alertname: "Broken", n: String(i % 5) } }));
  const ids = await journal.acceptNotifications(bodies.map((body) => ({ source: "generic", receivedAt, body })));
  processing.backlog.add(ids.map((id, i) => ({ id, source: "generic", receivedAt, body: bodies[i]!, alerts: alertsOf("generic", bodies[i]!, receivedAt) })));
  let failure: unknown;
  processing.wake((error) => (failure = error));
  await processing.idle();
  if (failure) throw failure;
  const incidents = await journal.listIncidents();
  return { ids, decided, processed, skipped, rolledBack, incidents, counts: incidents.map((i) => i.notifications).sort(), incidentIds: incidents.map((i) => i.id).sort(), pending: await journal.pendingNotifications(100) };
}

test("a slice too short for more applies one notification and makes one decision a transaction, and leaves nothing behind", async () => {
  const sliced = await process(0);
  expect(sliced.processed).toEqual(Array.from({ length: 20 }, () => 1));
  expect(sliced.counts).toEqual([4, 4, 4, 4, 4]);
  expect([...new Set(sliced.decided)].sort()).toEqual(sliced.incidentIds);
  expect(sliced.pending).toEqual([]);
  const whole = await process(60_000);
  expect(whole.processed).toEqual([20]);
  expect(whole.counts).toEqual([4, 4, 4, 4, 4]);
  expect(whole.decided.sort()).toEqual(whole.incidentIds);
});

test("a notification that cannot be applied is skipped alone; on PostgreSQL the batch applied without savepoints is redone with one for it", async () => {
  // Five fingerprints fire four times each; the eighth notification opens an incident whose event a sink refuses.
  const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ labels: { alertname: "Broken", n: String(i % 5) } }));
  bodies.splice(7, 0, JSON.stringify({ labels: { alertname: "Broken", n: "poison" } }));
  const refuse: Sink<HealEvent> = (event) => {
    if (event.type === "alert.received" && event.outcome === "opened" && event.fingerprint === poisoned) throw new Error("the sink refused it");
  };
  const poisoned = alertsOf("generic", bodies[7]!, 0)[0]!.fingerprint;
  for (const [name, open, rollbacks] of [["SQLite", sqlite, 0], ["PostgreSQL", postgres, 1]] as const) {
    const result = await process(undefined, { open, bodies, sinks: [refuse] });
    expect({ name, skipped: result.skipped }).toEqual({ name, skipped: [result.ids[7]!] });
    expect({ name, rolledBack: result.rolledBack }).toEqual({ name, rolledBack: rollbacks });
    expect({ name, counts: result.counts }).toEqual({ name, counts: [4, 4, 4, 4, 4] });
    expect(result.incidents.some((i) => i.fingerprint === poisoned)).toBe(false);
    expect(result.processed.reduce((a, b) => a + b, 0)).toBe(21);
    expect(result.pending).toEqual([]);
  }
});
