// A process that runs a config's schedules on a shared journal, as `opskit
// serve` does, for the tests that kill and restart servers under a schedule.
//   bun test/harness/schedule-replica.ts CONFIG_DIR JOURNAL NAME
// Prints one JSON line per schedule event, {"type":"ready"} once started;
// SIGTERM stops it (runs in flight get 5 s). Replicas share this host, so a
// replica id is NAME:PID and a replica lives while its process does.
import { loadConfig } from "../../src/config/index.ts";
import { openJournal } from "../../src/journal/index.ts";
import { startSchedules } from "../../src/schedule/index.ts";

const [dir, location, name] = process.argv.slice(2);
if (!dir || !location || !name) throw new Error("usage: schedule-replica.ts CONFIG_DIR JOURNAL NAME");

function processLives(replica: string): boolean {
  const pid = Number(replica.split(":").at(-1));
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const loaded = await loadConfig({ cwd: dir });
const journal = await openJournal(location);
const handle = await startSchedules({
  loaded,
  journal,
  replicaId: `${name}:${process.pid}`,
  isAlive: processLives,
  events: (event) => console.log(JSON.stringify(event)),
});
console.log(JSON.stringify({ type: "ready", replica: `${name}:${process.pid}` }));
process.once("SIGTERM", async () => {
  await handle.stop(5_000);
  await journal.close();
  process.exit(0);
});
