/*
 * The `journald` source: `journalctl --follow --output=json` (by unit, with
 * optional field matches), one event of kind "log" per entry. The cursor of
 * the last entry the agent took is persisted in the source's stateDir and
 * handed back with --after-cursor, so a restart neither repeats nor skips.
 * journalctl runs from an argument vector, never a shell, and is killed on
 * stop; if it exits, it is started again from the cursor.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import type { SchemaKit } from "../../schema/index.ts";
import { sleep } from "../../time/index.ts";
import type { AgentSource, SourceContext } from "../types.ts";
import { JOURNAL_FIELDS, journalEvent } from "./journal-entry.ts";
import { readStateFile, writeStateFile } from "./state-file.ts";
import { startFollowing } from "./following.ts";

const schema = ({ z }: SchemaKit) =>
  z
    .object({
      units: z.array(z.string().min(1)).default([]).describe("systemd units whose entries are read (journalctl --unit: any of them; globs such as ssh*.service work); none: every entry"),
      matches: z
        .array(z.string().regex(/^[A-Z0-9_]+=/, 'a journal match FIELD=value, e.g. "_COMM=sshd" or "PRIORITY=3"'))
        .default([])
        .describe("journal matches FIELD=value: matches of one field are alternatives, of different fields all must hold (journalctl(1) MATCHES)"),
      startAt: z.enum(["end", "beginning"]).default("end").describe("with no saved cursor (the very first start): entries from now on (end), or every entry the journal holds (beginning)"),
      directory: z.string().regex(/^\//, "an absolute path").optional().describe("read the journal files in this directory (journalctl --directory) instead of the system journal: a container's or another root's"),
      files: z.array(z.string().regex(/^\//, "an absolute path")).min(1).optional().describe("read these journal files (journalctl --file; globs allowed) instead of the system journal"),
      maxBytes: z.number().int().min(256).max(16 * 1024 * 1024).default(64 * 1024).describe("bound on one message, in bytes: what passes it is dropped and the event has fields.truncated"),
    })
    .strict()
    .refine((spec) => !(spec.directory && spec.files), "directory and files: at most one of them");

type JournaldSpec = z.output<ReturnType<typeof schema>>;

const STATE_FILE = "journald-cursor.json";
/** Where journald listens (systemd-journald.service(8)): without it, the system journal gets no new entries. */
const JOURNALD_SOCKET = "/run/systemd/journal/socket";
/**
 * Checkpoints while running are written every PERSIST_MS with the cursor of
 * the checkpoint before (one interval old): an entry the agent took sits in
 * its queue until the rules have seen it, and a crash must find it read
 * again, not skipped. A clean stop writes the exact cursor.
 */
const PERSIST_MS = 1000;
const RESTART_MAX_MS = 30_000;
const KILL_GRACE_MS = 2000;
/** A journalctl line longer than this (a message of many megabytes) is skipped, not buffered. */
const MAX_LINE_BYTES = 32 * 1024 * 1024;

/** The machine's id: the system journal is read with --merge (see `selection`), so entries of other machines' journals stored here are left out by this match. */
function localMachineId(): string | undefined {
  try {
    const id = readFileSync("/etc/machine-id", "utf8").trim();
    return /^[0-9a-f]{32}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What to read, as journalctl arguments. --merge because --follow alone
 * implies --boot (the current boot only: entries after a cursor from before
 * a reboot would be skipped, and the first of the new boot with them);
 * --merge also opens other machines' journals kept here, hence the
 * _MACHINE_ID match when reading the system journal.
 */
function selection(spec: JournaldSpec): string[] {
  const args = ["--merge", "--output=json", "--all", "--no-pager", "--quiet", `--output-fields=${JOURNAL_FIELDS.join(",")}`];
  if (spec.directory) args.push(`--directory=${spec.directory}`);
  for (const file of spec.files ?? []) args.push(`--file=${file}`);
  for (const unit of spec.units) args.push(`--unit=${unit}`);
  const matches = [...spec.matches];
  const machine = spec.directory || spec.files ? undefined : localMachineId();
  if (machine) matches.push(`_MACHINE_ID=${machine}`);
  // After "--" a match that begins with "-" is not read as an option.
  if (matches.length > 0) args.push("--", ...matches);
  return args;
}

/** Position arguments: after the cursor, or the whole journal; they go before the matches. */
function withPosition(args: string[], position: string[]): string[] {
  const split = args.indexOf("--");
  return split < 0 ? [...args, ...position] : [...args.slice(0, split), ...position, ...args.slice(split)];
}

class JournalReader {
  cursor: string | undefined;
  private persisted: string | undefined;
  private readonly statePath: string;
  private readonly args: string[];
  private nextPersist = 0;
  /** The cursor at the last checkpoint: written at the next one (see PERSIST_MS). */
  private lagging: string | undefined;
  /** A checkpoint being written: off the reading path (its fsync may take a while on a busy disk), one at a time. */
  private saving: Promise<void> | undefined;
  private warned = new Set<string>();
  /** The cursor, or its absence, says where to read from (with startAt: end, once the journal's last entry has been looked up). */
  private positioned = false;

  constructor(
    private readonly spec: JournaldSpec,
    private readonly context: SourceContext,
    private readonly signal: AbortSignal,
    /** --once: the cursor is read, never written. */
    private readonly readOnly = false,
  ) {
    this.statePath = join(context.stateDir, STATE_FILE);
    this.args = selection(spec);
  }

  /** The saved cursor; on the very first start with startAt: end, the cursor of the journal's last entry now. */
  async init(): Promise<boolean> {
    const text = await readStateFile(this.statePath);
    const saved = text ? this.parseCursor(text) : undefined;
    if (saved) {
      this.cursor = saved;
      this.persisted = saved;
      this.positioned = true;
      return true;
    }
    if (this.spec.startAt === "beginning") {
      this.positioned = true;
      return true;
    }
    if (this.readOnly) return false; // nothing saved, and "end" means nothing to read yet
    await this.positionAtEnd();
    return true;
  }

  private parseCursor(text: string): string | undefined {
    try {
      const { cursor } = JSON.parse(text) as { cursor?: unknown };
      if (typeof cursor === "string" && cursor) return cursor;
      throw new Error("no cursor in it");
    } catch (error) {
      this.context.warn(`journald: the saved cursor in ${this.statePath} cannot be read (${(error as Error).message}); starting as on a first start (startAt: ${this.spec.startAt})`);
      return undefined;
    }
  }

  /** The cursor of the journal's last entry now (none when it holds no entry yet): where startAt: end begins, fixed before start() returns. */
  private async positionAtEnd(): Promise<void> {
    try {
      const { lines, code, stderr } = await this.runToEnd(withPosition(this.args, ["--lines=1"]));
      if (code !== 0) {
        this.warnOnce("exit", `journald: journalctl exited ${code}: ${stderr.trim().split("\n")[0] || "no message"}; trying again`);
        return;
      }
      const last = lines.at(-1);
      this.cursor = last ? (JSON.parse(last) as { __CURSOR?: string }).__CURSOR : undefined;
      this.positioned = true;
      await this.persist();
    } catch (error) {
      this.warnOnce("exit", `journald: cannot run journalctl (${(error as Error).message}); trying again`);
    }
  }

  private position(follow: boolean): string[] {
    const position = this.cursor ? [`--after-cursor=${this.cursor}`] : [];
    // --follow shows only the last 10 entries unless told otherwise, with or without a cursor.
    return follow ? ["--follow", "--no-tail", ...position] : position;
  }

  /** Follows the journal until the signal aborts, starting journalctl again (from the cursor) when it exits. */
  async follow(): Promise<void> {
    let backoffMs = 500;
    while (!this.signal.aborted) {
      const started = Date.now();
      if (!this.positioned) await this.positionAtEnd();
      const { code, stderr } = this.positioned ? await this.run(withPosition(this.args, this.position(true))) : { code: null, stderr: "" };
      if (this.signal.aborted) break;
      this.context.counters.inc("journald_restarts");
      if (this.cursor && /seek to cursor/i.test(stderr)) {
        this.context.warn(`journald: the saved cursor is not in the journal any more (${stderr.trim()}); reading from the ${this.spec.startAt}`);
        this.cursor = undefined;
        this.positioned = this.spec.startAt === "beginning";
        continue;
      }
      this.warnOnce("exit", `journald: journalctl exited ${code ?? "on a signal"}${stderr.trim() ? `: ${stderr.trim().split("\n")[0]}` : ""}; started again from the last entry taken`);
      backoffMs = Date.now() - started > RESTART_MAX_MS ? 500 : Math.min(backoffMs * 2, RESTART_MAX_MS);
      await sleep(backoffMs, this.signal);
    }
  }

  /** From the cursor (or the beginning) to the journal's end now. */
  async readToEnd(): Promise<void> {
    const { code, stderr } = await this.run(withPosition(this.args, this.position(false)));
    if (code !== 0 && !this.signal.aborted) this.context.warn(`journald: journalctl exited ${code}: ${stderr.trim() || "no message"}`);
  }

  /** Saves the exact cursor (the agent is stopping cleanly: everything it took, it has handled). */
  async persist(): Promise<void> {
    await this.saving;
    if (this.cursor !== undefined) await this.save(this.cursor);
  }

  private async save(cursor: string): Promise<void> {
    if (this.readOnly || cursor === this.persisted) return;
    await writeStateFile(this.statePath, JSON.stringify({ cursor }));
    this.persisted = cursor;
  }

  /** Runs journalctl, handing each entry to the agent (waiting while its queue is full: journalctl then blocks on the pipe). */
  private async run(args: string[]): Promise<{ code: number | null; stderr: string }> {
    let child: ReturnType<typeof spawnJournalctl>;
    try {
      child = spawnJournalctl(args);
    } catch (error) {
      return { code: null, stderr: (error as Error).message };
    }
    const stderr = collectText(child.stderr, 4096);
    const kill = () => killGently(child);
    this.signal.addEventListener("abort", kill, { once: true });
    try {
      await this.pump(child.stdout);
    } finally {
      this.signal.removeEventListener("abort", kill);
      if (child.exitCode === null) await killGently(child);
    }
    return { code: await child.exited, stderr: await stderr };
  }

  private async pump(stdout: ReadableStream<Uint8Array>): Promise<void> {
    for await (const line of jsonLines(stdout, () => this.context.counters.inc("journald_lines_skipped"))) {
      if (this.signal.aborted) return;
      let entry: Record<string, never>;
      try {
        entry = JSON.parse(line);
      } catch {
        this.context.counters.inc("journald_lines_skipped");
        continue;
      }
      const { event, cursor } = journalEvent(entry, this.context.name, this.spec.maxBytes);
      if (event.fields.truncated) this.context.counters.inc("journald_messages_truncated");
      while (!this.context.emit(event)) {
        this.context.counters.inc("journald_backpressure");
        await Promise.race([this.context.drained(), new Promise<void>((resolve) => this.signal.addEventListener("abort", () => resolve(), { once: true }))]);
        if (this.signal.aborted) return;
      }
      if (cursor) this.cursor = cursor;
      if (Date.now() >= this.nextPersist) {
        this.nextPersist = Date.now() + PERSIST_MS;
        if (this.lagging && !this.saving) {
          this.saving = this.save(this.lagging)
            .catch((error: Error) => this.warnOnce("checkpoint", `journald: cannot save the cursor in ${this.statePath}: ${error.message}`))
            .finally(() => (this.saving = undefined));
        }
        this.lagging = this.cursor;
      }
    }
  }

  private async runToEnd(args: string[]): Promise<{ lines: string[]; code: number | null; stderr: string }> {
    const child = spawnJournalctl(args);
    const stderr = collectText(child.stderr, 4096);
    const lines: string[] = [];
    for await (const line of jsonLines(child.stdout, () => {})) lines.push(line);
    return { lines, code: await child.exited, stderr: await stderr };
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.context.warn(message);
  }
}

function spawnJournalctl(args: string[]) {
  return Bun.spawn(["journalctl", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
}

async function killGently(child: { kill(signal?: number | NodeJS.Signals): void; exited: Promise<number>; exitCode: number | null }): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
  await child.exited;
  clearTimeout(timer);
}

async function collectText(stream: ReadableStream<Uint8Array>, maxChars: number): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) if (text.length < maxChars) text += decoder.decode(chunk, { stream: true });
  return text.slice(0, maxChars);
}

/** The stream's lines (journalctl's JSON is UTF-8); a line past MAX_LINE_BYTES is skipped whole. */
async function* jsonLines(stream: ReadableStream<Uint8Array>, skipped: () => void): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  let skipping = false;
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let from = 0;
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n", from)) {
      const line = buffered.slice(from, newline);
      from = newline + 1;
      if (skipping) skipping = false;
      else if (line) yield line;
    }
    buffered = buffered.slice(from);
    if (buffered.length > MAX_LINE_BYTES) {
      if (!skipping) skipped();
      skipping = true;
      buffered = "";
    }
  }
  if (buffered && !skipping) yield buffered;
}

export const journaldSource: AgentSource<JournaldSpec> = {
  kind: "journald",
  schema,
  async start(spec: JournaldSpec, context: SourceContext) {
    if (!spec.directory && !spec.files && !existsSync(JOURNALD_SOCKET)) {
      context.warn(`journald does not run on this machine (no ${JOURNALD_SOCKET}): the system journal gets no new entries; following it anyway`);
    }
    return startFollowing(context, async (signal) => {
      const reader = new JournalReader(spec, context, signal);
      await reader.init();
      return { follow: () => reader.follow(), finish: () => reader.persist() };
    });
  },
  /** From the saved cursor to the journal's end now (with no cursor: everything with startAt: beginning, nothing with end); the cursor is not moved. */
  async once(spec: JournaldSpec, context: SourceContext) {
    const reader = new JournalReader(spec, context, context.signal, true);
    if (await reader.init()) await reader.readToEnd();
  },
};
