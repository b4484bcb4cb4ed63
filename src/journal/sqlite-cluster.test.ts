// What the SQLite journal does with leases and schedule fires beyond the contract
// (contract-cluster.ts, contract-schedules.ts): several processes racing on one file.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteJournal } from "./sqlite.ts";

const root = mkdtempSync(join(tmpdir(), "opskit-cluster-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const processes = 4;
const rounds = 1000;
const t0 = 1764072000000;

/**
 * One racer: announces itself with a heartbeat, waits (bounded) until every
 * racer has, then, from the same moment as the others, tries every lease and
 * every fire of the rounds and prints which it won.
 */
const racer = `
import { openSqliteJournal } from ${JSON.stringify(join(import.meta.dir, "sqlite.ts"))};
const [location, id, count, rounds, t0] = [process.env.JOURNAL, process.env.RACER, Number(process.env.COUNT), Number(process.env.ROUNDS), Number(process.env.T0)];
const journal = openSqliteJournal(location);
await journal.heartbeat({ id, name: id, host: "localhost", pid: process.pid, startedAt: t0 }, Date.now());
const deadline = Date.now() + 20_000;
let replicas = [];
while ((replicas = await journal.replicas()).length < count) {
  if (Date.now() > deadline) throw new Error("the other racers did not start");
  await Bun.sleep(2);
}
// Every racer reads the same heartbeats, so all start at the same moment.
Bun.sleepSync(Math.max(0, Math.max(...replicas.map((r) => r.seenAt)) + 100 - Date.now()));
const leases = [];
const fires = [];
for (let r = 0; r < rounds; r++) {
  if ((await journal.acquireLease("check:" + r, id, t0, 60_000)).holder === id) leases.push(r);
  if (await journal.claimScheduleFire({ schedule: "backup", at: t0 + r, firedAt: t0 + r, replica: id, status: "running" })) fires.push(r);
}
await journal.close();
console.log(JSON.stringify({ leases, fires }));
`;

test("processes racing on one file for the same leases and scheduled times: each goes to exactly one of them", async () => {
  const location = join(root, "race.db");
  await openSqliteJournal(location).close();
  const children = Array.from({ length: processes }, (_, i) =>
    Bun.spawn([process.execPath, "-e", racer], {
      env: { ...process.env, JOURNAL: location, RACER: `racer-${i}`, COUNT: String(processes), ROUNDS: String(rounds), T0: String(t0) },
      stdout: "pipe",
      stderr: "pipe",
    }),
  );
  const timer = setTimeout(() => children.forEach((child) => child.kill()), 50_000);
  try {
    const outputs = await Promise.all(children.map(async (child) => {
      const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      expect({ code, err }).toEqual({ code: 0, err: "" });
      return JSON.parse(out) as { leases: number[]; fires: number[] };
    }));
    const all = Array.from({ length: rounds }, (_, r) => r);
    expect(outputs.flatMap((o) => o.leases).sort((a, b) => a - b)).toEqual(all);
    expect(outputs.flatMap((o) => o.fires).sort((a, b) => a - b)).toEqual(all);

    const journal = openSqliteJournal(location);
    try {
      const leases = await journal.leases("check:");
      expect(leases).toHaveLength(rounds);
      for (const lease of leases) {
        const r = Number(lease.name.slice("check:".length));
        expect(outputs[Number(lease.holder.slice("racer-".length))]!.leases).toContain(r);
        expect(lease.epoch).toBe(1);
      }
      const fires = await journal.scheduleFires("backup", { limit: rounds });
      expect(fires).toHaveLength(rounds);
      for (const fire of fires) expect(outputs[Number(fire.replica.slice("racer-".length))]!.fires).toContain(fire.at - t0);
    } finally {
      await journal.close();
    }
  } finally {
    clearTimeout(timer);
  }
});
