import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config/index.ts";
import { openJournal, type Journal } from "../journal/index.ts";
import { lifecycleContext } from "./lifecycle.ts";
import { alertsOf } from "./sources/index.ts";
import { NotificationProcessing } from "./processing.ts";
import { compileRules } from "./rules.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-processing-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const journals: Journal[] = [];
afterEach(async () => {
  for (const journal of journals.splice(0)) await journal.close();
});

/** 20 firing notifications over 5 fingerprints, committed and handed over; processed in slices of `sliceMs`. */
async function process(sliceMs: number) {
  writeFileSync(join(root, "opskit.yaml"), 'workflows:\n  fix:\n    targets: local\n    steps:\n      - exec: "true"\nrules:\n  - name: fix-it\n    match: { alertname: Broken }\n    run: fix\n');
  const rules = await compileRules(await loadConfig({ cwd: root, path: root }), 60_000);
  const journal = await openJournal(join(mkdtempSync(join(root, "journal-")), "journal.db"));
  journals.push(journal);
  const decided: number[] = [];
  const processed: number[] = [];
  const processing = new NotificationProcessing({
    journal,
    context: (store) => lifecycleContext(store, rules, []),
    decide: async (_ctx, id) => void decided.push(id),
    processed: async (count) => void processed.push(count),
    rolledBack: () => undefined,
    skipped: (notification, error) => {
      throw new Error(`notification ${notification.id} skipped: ${String(error)}`);
    },
    sliceMs,
  });
  // At start the backlog reads the journal; after that, what is handed over.
  await processing.backlog.next();
  const receivedAt = Date.now();
  const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ labels: { alertname: "Broken", n: String(i % 5) } }));
  const ids = await journal.acceptNotifications(bodies.map((body) => ({ source: "generic", receivedAt, body })));
  processing.backlog.add(ids.map((id, i) => ({ id, source: "generic", receivedAt, body: bodies[i]!, alerts: alertsOf("generic", bodies[i]!, receivedAt) })));
  processing.wake((error) => {
    throw error;
  });
  await processing.idle();
  const incidents = await journal.listIncidents();
  return { decided, processed, counts: incidents.map((i) => i.notifications).sort(), incidentIds: incidents.map((i) => i.id).sort(), pending: await journal.pendingNotifications(100) };
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
