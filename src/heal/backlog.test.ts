import { expect, test } from "bun:test";
import type { IncidentStore, NotificationRecord } from "../journal/index.ts";
import { NotificationBacklog, type PendingNotification } from "./backlog.ts";

/** The journal's side of the backlog: notifications committed, and which are processed. */
function journal() {
  const rows: NotificationRecord[] = [];
  let reads = 0;
  const store = {
    async pendingNotifications(limit: number) {
      reads++;
      return rows.filter((n) => !n.processed).slice(0, limit);
    },
  } as unknown as IncidentStore;
  return {
    store,
    reads: () => reads,
    commit(...ids: number[]): PendingNotification[] {
      const committed = ids.map((id) => ({ id, source: "generic", receivedAt: id, body: `{"n":${id}}` }));
      rows.push(...committed.map((n) => ({ ...n, processed: false })));
      return committed.map((n) => ({ ...n, alerts: [] }));
    },
    process(batch: readonly PendingNotification[]) {
      for (const n of batch) rows.find((row) => row.id === n.id)!.processed = true;
    },
  };
}

/** Takes batches until none is left, marking each processed as the healer does; returns the ids in the order applied. */
async function drain(backlog: NotificationBacklog, j: ReturnType<typeof journal>): Promise<number[]> {
  const applied: number[] = [];
  for (let batch = await backlog.next(); batch.length > 0; batch = await backlog.next()) {
    applied.push(...batch.map((n) => n.id));
    j.process(batch);
    backlog.processed(batch);
  }
  return applied;
}

test("at start the journal's backlog comes first; then what the intake hands over, in batches, from memory", async () => {
  const j = journal();
  j.commit(1, 2, 3);
  const backlog = new NotificationBacklog(j.store, 2);
  expect(await drain(backlog, j)).toEqual([1, 2, 3]);
  const readsBefore = j.reads();
  backlog.add(j.commit(4, 5, 6));
  const first = await backlog.next();
  expect(first.map((n) => n.id)).toEqual([4, 5]);
  // From memory: the alerts the webhook parsed come along, and the journal is not read.
  expect(first[0]!.alerts).toEqual([]);
  expect(j.reads()).toBe(readsBefore);
  j.process(first);
  backlog.processed(first);
  expect(await drain(backlog, j)).toEqual([6]);
});

test("a notification the journal showed before its hand-over is applied once", async () => {
  const j = journal();
  const backlog = new NotificationBacklog(j.store, 10);
  expect(await drain(backlog, j)).toEqual([]);
  // Committed, and read from the journal (memory had run dry) before the intake handed it over.
  const late = j.commit(1, 2);
  expect(await drain(backlog, j)).toEqual([1, 2]);
  backlog.add(late);
  backlog.add(j.commit(3));
  expect(await drain(backlog, j)).toEqual([3]);
});

test("after a batch that failed, its notifications come back from the journal, each once, then memory again", async () => {
  const j = journal();
  const backlog = new NotificationBacklog(j.store, 2);
  await drain(backlog, j);
  backlog.add(j.commit(1, 2, 3));
  const failed = await backlog.next();
  expect(failed.map((n) => n.id)).toEqual([1, 2]);
  backlog.failed();
  backlog.add(j.commit(4));
  const applied = await drain(backlog, j);
  expect(applied).toEqual([1, 2, 3, 4]);
  backlog.add(j.commit(5));
  const readsBefore = j.reads();
  expect((await backlog.next()).map((n) => n.id)).toEqual([5]);
  expect(j.reads()).toBe(readsBefore);
});
