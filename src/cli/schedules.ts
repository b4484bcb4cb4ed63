import { existsSync } from "node:fs";
import { ExitCode, usageError } from "../errors.ts";
import { displayJournalLocation, isPostgresUrl, openJournal } from "../journal/index.ts";
import type { ScheduleFireRecord, ScheduleStatus } from "../schedule/index.ts";
import { LineWriter } from "../ui/index.ts";
import { loadConfigFromOptions } from "./config-options.ts";
import { commandJournal } from "./journal-options.ts";
import type { OptionsOf } from "./options.ts";
import type { schedulesSpec } from "./schedules-spec.ts";

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
const isoOf = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function fireJson(fire: ScheduleFireRecord) {
  return { at: isoOf(fire.at), firedAt: isoOf(fire.firedAt), status: fire.status, replica: fire.replica, runId: fire.runId, finishedAt: isoOf(fire.finishedAt), detail: fire.detail };
}

function statusJson(status: ScheduleStatus) {
  const { name, next, last, ...settings } = status;
  return { schedule: name, ...settings, next: next.map((t) => isoOf(t)), last: last ? fireJson(last) : null };
}

function printStatus(status: ScheduleStatus, out: LineWriter): void {
  const settings = [status.timezone, ...(status.jitter ? [`jitter ${status.jitter}`] : []), `concurrency: ${status.concurrency}`, `missed: ${status.missed}`];
  out.line(`${status.name}  ${status.cron}  (${settings.join(", ")})`);
  out.line(`  next: ${status.next.length > 0 ? status.next.map(when).join(", ") : "none: the expression has no time left"}`);
  const last = status.last;
  if (!last) {
    out.line("  last: never fired");
    return;
  }
  const late = last.firedAt - last.at >= 1000 ? ` (started ${when(last.firedAt)})` : "";
  out.line(`  last: ${when(last.at)}${late} ${last.status}${last.runId ? ` · run ${last.runId}` : ""} · ${last.replica}${last.status !== "succeeded" && last.detail ? ` · ${last.detail}` : ""}`);
}

/** `opskit schedules`: the config's schedules with their next times, and each one's last fire in the journal. */
export async function schedulesCommand(args: string[], options: OptionsOf<typeof schedulesSpec>): Promise<number> {
  if (args.length > 0) throw usageError("E_USAGE_SCHEDULES", `unexpected argument "${args[0]}"`, "opskit schedules lists every schedule; opskit runs show RUN shows one run");
  const loaded = await loadConfigFromOptions(options);
  const { listSchedules } = await import("../schedule/index.ts");
  const location = await commandJournal(options, loaded);
  const now = Date.now();
  // A journal file that does not exist yet holds no fires: it is not created by looking.
  const journal = !isPostgresUrl(location) && !existsSync(location) ? undefined : await openJournal(location);
  let statuses: ScheduleStatus[];
  try {
    statuses = await listSchedules(loaded, journal ?? { lastScheduleFires: async () => [] }, now, options.count);
  } finally {
    await journal?.close();
  }
  const out = new LineWriter();
  if (options.json) {
    for (const status of statuses) out.line(JSON.stringify(statusJson(status)));
  } else if (statuses.length === 0) {
    out.line(`no schedules in ${loaded.files.join(", ")} (a workflow runs on one with schedule: "*/5 * * * *")`);
  } else {
    for (const status of statuses) printStatus(status, out);
    out.line(`${statuses.length} schedule${statuses.length === 1 ? "" : "s"}; fires from ${journal ? journal.location : `${displayJournalLocation(location)} (none yet)`}`);
  }
  out.flush();
  return ExitCode.ok;
}
