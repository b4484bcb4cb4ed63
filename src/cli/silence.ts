import { ExitCode, OpsError, usageError } from "../errors.ts";
import { formatMatchers, matchersFromArgs, newSilence, silenceListed, silenceState, type SilenceInput } from "../heal/index.ts";
import type { Journal, SilenceMatcher, SilenceRecord } from "../journal/index.ts";
import { LineWriter } from "../ui/index.ts";
import { actorName } from "./actor.ts";
import { callServer, serverUnreachable } from "./incidents.ts";
import type { OptionsOf } from "./options.ts";
import type { silenceSpec } from "./silence-spec.ts";

type Options = OptionsOf<typeof silenceSpec>;
type Shown = SilenceRecord & { status: { state: string } };

/** amtool's default length of a silence. */
const DEFAULT_FOR_MS = 3_600_000;

function timeOption(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) throw usageError("E_USAGE_TIME", `${flag} ${JSON.stringify(text)} is not a time`, `write it as ISO 8601, e.g. ${flag} 2026-12-06T20:00:00Z`);
  return at;
}

/** What `add` asks for, from the command line: matchers, the window, who and why. */
function silenceInput(args: string[], options: Options): SilenceInput {
  if (args.length === 0) throw usageError("E_USAGE_SILENCE", "silence add needs at least one matcher", 'e.g. opskit silence add alertname=ApiDown service=~"api.*" --for 2h --comment "migration"');
  if (!options.comment) throw usageError("E_USAGE_SILENCE", "silence add needs --comment: say why, for whoever finds the silence", 'e.g. --comment "database migration, until 22:00"');
  if (options.for !== undefined && options.end !== undefined) throw usageError("E_USAGE_SILENCE", "give --for or --end, not both");
  const startsAt = timeOption(options.start, "--start");
  const endsAt = timeOption(options.end, "--end") ?? (startsAt ?? Date.now()) + (options.for?.ms ?? DEFAULT_FOR_MS);
  return { matchers: matchersFromArgs(args), ...(startsAt !== undefined ? { startsAt } : {}), endsAt, createdBy: actorName(options.as), comment: options.comment };
}

const clock = (at: number) => new Date(at).toISOString().replace("T", " ").slice(0, 19);

function printSilences(silences: readonly Shown[], out: LineWriter): void {
  out.line(`${"ID".padEnd(38)}${"STATE".padEnd(9)}${"STARTS".padEnd(21)}${"ENDS".padEnd(21)}${"CREATED BY".padEnd(14)}MATCHERS · COMMENT`);
  for (const s of silences) {
    out.line(`${s.id.padEnd(38)}${s.status.state.padEnd(9)}${clock(s.startsAt).padEnd(21)}${clock(s.endsAt).padEnd(21)}${s.createdBy.slice(0, 13).padEnd(14)}${formatMatchers(s.matchers)}${s.comment ? ` · ${s.comment}` : ""}${s.expiredBy ? ` · expired by ${s.expiredBy}` : ""}`);
  }
  out.line(`${silences.length} silence${silences.length === 1 ? "" : "s"}`);
}

/**
 * The journal itself, when no server answers and --journal names it: what
 * the server would do, without waking its incidents (a server started on
 * the journal decides for them at its start).
 */
class DirectSilences {
  constructor(private readonly journal: Journal) {}

  async list(filter: readonly SilenceMatcher[], expired: boolean): Promise<Shown[]> {
    const now = Date.now();
    const all = await this.journal.listSilences(expired ? {} : { endsAfter: now });
    return all
      .filter((s) => silenceListed(s, filter))
      .map((s) => ({ ...s, status: { state: silenceState(s, now) } }));
  }

  async add(input: SilenceInput): Promise<SilenceRecord> {
    const silence = newSilence(input);
    await this.journal.createSilence(silence);
    return silence;
  }

  async expire(id: string, by: string): Promise<SilenceRecord> {
    if (!(await this.journal.getSilence(id))) throw new OpsError({ code: "E_NOT_FOUND", message: `no silence ${id}`, hint: "opskit silence list --expired lists them", exitCode: ExitCode.usage });
    if (!(await this.journal.expireSilence(id, Date.now(), by))) throw new OpsError({ code: "E_SILENCE_EXPIRED", message: `silence ${id} has already expired`, exitCode: ExitCode.usage });
    return (await this.journal.getSilence(id))!;
  }
}

/** The server's answer, or, when it cannot be reached and --journal names a journal, the journal's. */
async function throughServer<T>(options: Options, call: () => Promise<T>, direct: (silences: DirectSilences) => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!serverUnreachable(error) || options.journal === undefined) throw error;
    const { openJournal, displayJournalLocation } = await import("../journal/index.ts");
    process.stderr.write(`opskit silence: no server answers; using the journal at ${displayJournalLocation(options.journal)} directly\n`);
    const journal = await openJournal(options.journal);
    try {
      return await direct(new DirectSilences(journal));
    } finally {
      await journal.close();
    }
  }
}

export async function silenceCommand(args: string[], options: Options): Promise<number> {
  const verb = args[0] ?? "list";
  const rest = args.slice(1);
  const out = new LineWriter();
  try {
    if (verb === "list" || verb === "query") {
      const filter = matchersFromArgs(rest);
      const query = new URLSearchParams({ ...(options.expired ? { state: "all" } : {}), ...(filter.length > 0 ? { filter: formatMatchers(filter) } : {}) });
      const silences = await throughServer(
        options,
        async () => ((await callServer(options, "GET", `/api/v1/silences${query.size > 0 ? `?${query}` : ""}`)) as { silences: Shown[] }).silences,
        (direct) => direct.list(filter, options.expired),
      );
      if (options.json) for (const s of silences) out.line(JSON.stringify(s));
      else printSilences(silences, out);
      return ExitCode.ok;
    }
    if (verb === "add") {
      const input = silenceInput(rest, options);
      const silence = await throughServer(
        options,
        async () => ((await callServer(options, "POST", "/api/v1/silences", input)) as { silence: SilenceRecord }).silence,
        (direct) => direct.add(input),
      );
      // As amtool, the id alone: a script keeps it to expire the silence.
      out.line(options.json ? JSON.stringify(silence) : silence.id);
      return ExitCode.ok;
    }
    if (verb === "expire") {
      if (rest.length === 0) throw usageError("E_USAGE_SILENCE", "silence expire needs the id of a silence", "opskit silence list shows them");
      const by = actorName(options.as);
      for (const id of rest) {
        if (!/^[\w-]{1,64}$/.test(id)) throw usageError("E_USAGE_SILENCE", `${JSON.stringify(id)} is not a silence id`, "opskit silence list shows them");
        const silence = await throughServer(
          options,
          async () => ((await callServer(options, "DELETE", `/api/v1/silences/${id}`, { by })) as { silence: SilenceRecord }).silence,
          (direct) => direct.expire(id, by),
        );
        out.line(options.json ? JSON.stringify(silence) : `expired ${silence.id}`);
      }
      return ExitCode.ok;
    }
    throw usageError("E_USAGE_SILENCE", `unknown silence command "${verb}"`, "use add MATCHER…, list [MATCHER…] or expire ID…");
  } finally {
    out.flush();
  }
}
