/*
 * Tails the files a set of path patterns names, across rotation, with the
 * offsets persisted in the source's stateDir. A file is known by (device,
 * inode) and a fingerprint of its first bytes:
 *   - renamed away (logrotate's create mode): the old inode is read to its end
 *     through the descriptor already open, then the new file from 0;
 *   - truncated (copytruncate, `: > file`): read again from 0, after the
 *     unread end of the old content has been read from the copy, when a file
 *     in the same directory begins with the same bytes (the rotated copy);
 *   - a copy of a live file (a copytruncate in progress) is not read twice;
 *   - a restart resumes each file at the offset of the last record the agent
 *     took, finding it under its rotated name if it was renamed meanwhile.
 * inotify wakes the loop (directory-watch.ts); polling every pollInterval
 * is the fallback that never goes away.
 */
import type { BigIntStats } from "node:fs";
import { type FileHandle, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { sleep } from "../../time/index.ts";
import type { AgentEvent, SourceContext } from "../types.ts";
import { DirectoryWatch } from "./directory-watch.ts";
import type { LogRecord, RecordOptions } from "./log-records.ts";
import { compileExcludes, compilePathPattern, expandPathPattern, type PathPattern } from "./path-globs.ts";
import { readStateFile, writeStateFile } from "./state-file.ts";
import { beginsWith, FINGERPRINT_BYTES, fileKey, fingerprintOf, type Fingerprint, TailedFile } from "./tailed-file.ts";

export interface FileTailOptions {
  paths: string[];
  exclude: string[];
  records: RecordOptions;
  /** How long a multi-line record waits for a continuation line. */
  multilineIdleMs: number;
  startAt: "beginning" | "end";
  pollMs: number;
}

interface SavedFile {
  path: string;
  file: string;
  offset: number;
  fingerprint: Fingerprint;
}
interface SavedState {
  version: 1;
  files: Record<string, SavedFile>;
}

const STATE_FILE = "files-offsets.json";
/**
 * Checkpoints while running are written every PERSIST_MS with the offsets of
 * the checkpoint before (one interval old): an event the agent took sits in
 * its queue until the rules have seen it, and a crash must find it read
 * again, not skipped. A clean stop writes the exact offsets.
 */
/** Bytes read from one file before the next gets its turn. */
const ROUND_BYTES = 1024 * 1024;
const SCAN_MS = 1000;
const PERSIST_MS = 1000;
/** A file rotated away is closed once it has not grown for this long (its writer has reopened the new one). */
const ROTATED_IDLE_MS = 5000;
/**
 * After a round that read something, the next look comes this soon whatever
 * inotify says: Bun's fs.watch drops a change that follows another on the
 * same file within a millisecond (oven-sh/bun#29952, shouldEmit), so the
 * last write of a burst can go unreported until the poll.
 */
const FOLLOW_UP_MS = 15;

export class FileTail {
  private readonly patterns: PathPattern[];
  private readonly excluded: (path: string) => boolean;
  private files = new Map<string, TailedFile>();
  private readonly watch: DirectoryWatch;
  private readonly statePath: string;
  private persisted = "";
  /** The offsets at the last checkpoint, written at the next one. */
  private lagging: Record<string, SavedFile> | undefined;
  /** A checkpoint being written: off the reading path (its fsync may take a while on a busy disk), one at a time. */
  private saving: Promise<void> | undefined;
  private readonly warned = new Set<string>();

  constructor(
    private readonly options: FileTailOptions,
    private readonly context: SourceContext,
    private readonly signal: AbortSignal,
  ) {
    this.patterns = options.paths.map(compilePathPattern);
    this.excluded = compileExcludes(options.exclude);
    this.statePath = join(context.stateDir, STATE_FILE);
    this.watch = new DirectoryWatch((reason) => this.warnOnce("watch", `files: inotify unavailable (${reason}); polling every ${options.pollMs} ms`));
  }

  /** Opens what the saved state and the patterns name, each at the offset to resume from. */
  async init(): Promise<void> {
    const text = await readStateFile(this.statePath);
    const saved = text ? this.parseState(text) : undefined;
    if (saved) this.persisted = text!;
    const matched = await this.matches();
    for (const [key, entry] of Object.entries(saved?.files ?? {})) await this.resume(key, entry, matched);
    await this.adopt(matched, saved === undefined && this.options.startAt === "end");
  }

  private parseState(text: string): SavedState | undefined {
    try {
      const state = JSON.parse(text) as SavedState;
      if (state?.version === 1 && typeof state.files === "object" && state.files !== null) return state;
      throw new Error("not a version 1 offsets file");
    } catch (error) {
      this.context.warn(`files: the saved offsets in ${this.statePath} cannot be read (${(error as Error).message}); starting as on a first start (startAt: ${this.options.startAt})`);
      return undefined;
    }
  }

  /** Saves where every file will be read from before anything is emitted (startAt: end on a first run is kept even if the agent dies at once); not for --once. */
  async checkpointStart(): Promise<void> {
    await this.writeState(this.offsets());
  }

  /** Follows the files until the signal aborts. */
  async follow(): Promise<void> {
    let nextScan = 0;
    let nextPersist = Date.now() + PERSIST_MS;
    while (!this.signal.aborted) {
      try {
        const now = Date.now();
        if (this.watch.rescan || now >= nextScan) {
          this.watch.rescan = false;
          nextScan = now + SCAN_MS;
          await this.scan();
        }
        const outcome = await this.round(false);
        if (Date.now() >= nextPersist) {
          nextPersist = Date.now() + PERSIST_MS;
          const current = this.offsets();
          if (this.lagging && !this.saving) this.saving = this.checkpoint(this.lagging);
          this.lagging = current;
        }
        if (outcome === "blocked") await this.waitForRoom();
        else if (outcome === "read") await this.watch.idle(Math.min(FOLLOW_UP_MS, this.idleMs()), this.signal);
        else if (outcome === "idle") await this.watch.idle(this.idleMs(), this.signal);
      } catch (error) {
        this.warnOnce("loop", `files: ${(error as Error).message}`);
        await sleep(this.options.pollMs, this.signal);
      }
    }
  }

  /** Reads what is there now, to the end of every file; pending multi-line records are handed out at the end. */
  async drain(): Promise<void> {
    while (!this.signal.aborted) {
      const outcome = await this.round(true);
      if (outcome === "blocked") await this.waitForRoom();
      else if (outcome === "idle") return;
    }
  }

  /** Saves the exact offsets (the agent is stopping cleanly: everything it took, it has handled). */
  async persist(): Promise<void> {
    await this.saving;
    await this.writeState(this.offsets());
  }

  private async checkpoint(files: Record<string, SavedFile>): Promise<void> {
    try {
      await this.writeState(files);
    } catch (error) {
      this.warnOnce("checkpoint", `files: cannot save offsets in ${this.statePath}: ${(error as Error).message}`);
    } finally {
      this.saving = undefined;
    }
  }

  private offsets(): Record<string, SavedFile> {
    const files: Record<string, SavedFile> = {};
    for (const file of this.files.values()) {
      if (file.role === "copy" || file.closed || file.readPos < 0) continue;
      files[file.key] = { path: file.path, file: file.file, offset: file.committed, fingerprint: file.fingerprint };
    }
    return files;
  }

  private async writeState(files: Record<string, SavedFile>): Promise<void> {
    const text = JSON.stringify({ version: 1, files } satisfies SavedState);
    if (text === this.persisted) return;
    await writeStateFile(this.statePath, text);
    this.persisted = text;
  }

  async close(): Promise<void> {
    this.watch.close();
    for (const file of this.files.values()) await file.close();
    this.files.clear();
  }

  /** Regular files the patterns name now, by key. */
  private async matches(): Promise<Map<string, { path: string; stat: BigIntStats }>> {
    const matched = new Map<string, { path: string; stat: BigIntStats }>();
    for (const pattern of this.patterns) {
      for (const path of await expandPathPattern(pattern)) {
        if (this.excluded(path)) continue;
        const found = await stat(path, { bigint: true }).catch(() => undefined);
        if (found?.isFile() && !matched.has(fileKey(found))) matched.set(fileKey(found), { path, stat: found });
      }
    }
    return matched;
  }

  /** A file the saved state names: where it is now (under a pattern, renamed beside it, or as a copy), and from where to read. */
  private async resume(key: string, entry: SavedFile, matched: Map<string, { path: string; stat: BigIntStats }>): Promise<void> {
    const here = matched.get(key);
    if (here) {
      const file = await this.track(here.path, (stat, handle) => (beginsWith(handle, entry.fingerprint) && Number(stat.size) >= entry.offset ? entry.offset : -1));
      if (!file) return;
      file.file = entry.file;
      if (file.readPos >= 0) return;
      // Truncated or replaced while the agent was stopped: the unread end may sit in a copy.
      this.count("files_truncated");
      await this.continueFromCopy(entry, file.file, key);
      file.restart(0);
      return;
    }
    const renamed = await this.findInDirectory(dirname(entry.path), (candidate) => fileKey(candidate) === key);
    const continued = renamed ? await this.track(renamed, (_stat, handle) => (beginsWith(handle, entry.fingerprint) ? entry.offset : -1)) : undefined;
    if (continued && continued.readPos >= 0) {
      continued.file = entry.file;
      continued.role = "rotated";
      continued.catchUp();
    } else {
      if (continued) await this.forget(continued);
      await this.continueFromCopy(entry, entry.file, key);
    }
  }

  /** Tracks newly matched files: from 0 (or their end on a first run with startAt: end), after the file they replace; copies of live files are held. */
  private async adopt(matched: Map<string, { path: string; stat: BigIntStats }>, fromEnd: boolean): Promise<void> {
    for (const [key, { path }] of matched) {
      const known = this.files.get(key);
      if (known) {
        known.path = path;
        if (known.role === "rotated") known.role = "live";
        continue;
      }
      const file = await this.track(path, (stat) => (fromEnd ? Number(stat.size) : 0));
      if (!file) continue;
      const original = this.copyOf(file);
      if (original) {
        file.role = "copy";
        continue;
      }
      // A file renamed away from this path (create-mode rotation) is read to its end first.
      for (const other of this.files.values()) {
        if (other !== file && other.file === path && other.role !== "copy" && !other.catchingUp) other.catchUp();
      }
    }
  }

  private async scan(): Promise<void> {
    const matched = await this.matches();
    for (const file of this.files.values()) {
      if (matched.has(file.key)) continue;
      if (file.role === "copy") await this.forget(file);
      else if (file.role === "live") {
        file.role = "rotated";
        file.catchUp();
        file.lastGrowthAt = Date.now();
        // Its new name, if it is still in the same directory: a restart looks for it there.
        file.path = (await this.findInDirectory(dirname(file.path), (candidate) => fileKey(candidate) === file.key)) ?? file.path;
      }
    }
    await this.adopt(matched, false);
    // The patterns' directories (new files appear there) and the files' own (they change there).
    this.watch.watch(new Set([...this.patterns.map((pattern) => pattern.base), ...[...this.files.values()].map((file) => dirname(file.path))]));
  }

  /** One pass over the files: what each owes is delivered, truncation handled, up to ROUND_BYTES read. */
  private async round(draining: boolean): Promise<"blocked" | "more" | "read" | "idle"> {
    let more = false;
    let readAny = false;
    const now = Date.now();
    const ordered = [...this.files.values()].sort((a, b) => rank(a) - rank(b));
    const successorsWithData = await this.successorsWithData(ordered);
    for (const file of ordered) {
      if (file.closed || file.role === "copy") continue;
      if (this.waits(file)) {
        more = true;
        continue;
      }
      try {
        if (!this.deliver(file)) return "blocked";
        if ((await file.truncated()) && (await this.truncated(file))) {
          more = true;
          continue;
        }
        const read = await file.read(ROUND_BYTES);
        if (read === ROUND_BYTES) more = true;
        if (read > 0) readAny = true;
        if (file.reachedEnd && file.catchingUp && (draining || successorsWithData.has(file.file))) {
          // Read to its end after its successor got data: a writer that moved on wrote all it will write here.
          file.catchingUp = false;
          file.flushPending();
        }
        if (file.reachedEnd) {
          if (draining) file.flushPending();
          else file.flushIdle(Date.now(), this.options.multilineIdleMs);
        }
        if (!this.deliver(file)) return "blocked";
        if (file.role === "rotated" && file.reachedEnd && (draining || now - file.lastGrowthAt >= ROTATED_IDLE_MS)) {
          file.flushAll();
          if (!this.deliver(file)) return "blocked";
          await this.forget(file);
        }
      } catch (error) {
        this.warnOnce(file.key, `files: ${file.path}: ${(error as Error).message}; no longer read`);
        this.count("files_errors");
        await this.forget(file);
      }
    }
    return more ? "more" : readAny ? "read" : "idle";
  }

  /** Names under which a newer file already holds unread data while older content under the name is still being read. */
  private async successorsWithData(ordered: TailedFile[]): Promise<Set<string>> {
    const names = new Set<string>();
    const catching = new Set(ordered.filter((file) => file.catchingUp && !file.closed).map((file) => file.file));
    if (catching.size === 0) return names;
    for (const file of ordered) {
      if (file.catchingUp || file.closed || file.role === "copy" || !catching.has(file.file) || names.has(file.file)) continue;
      if (unreadOrGone(file)) names.add(file.file);
    }
    return names;
  }

  /** Whether the file waits for older content under its name (a file rotated away, a copy's unread end) to be read first. */
  private waits(file: TailedFile): boolean {
    if (file.catchingUp) return false;
    for (const other of this.files.values()) if (other !== file && other.catchingUp && other.file === file.file && !other.closed) return true;
    return false;
  }

  /**
   * The file shrank or was replaced in place. Its unread end is read from the
   * copy (copytruncate), when one begins with the same bytes and is long
   * enough, before the file itself is read again from 0. True when a copy
   * was found (the file now waits for it).
   */
  private async truncated(file: TailedFile): Promise<boolean> {
    this.count("files_truncated");
    const resumeAt = file.assembler.resumeOffset;
    const copy = await this.continueFromCopy({ path: file.path, file: file.file, offset: resumeAt, fingerprint: file.fingerprint }, file.file, file.key);
    if (!copy) file.flushAll();
    file.restart(0);
    file.fingerprint = fingerprintOf(file.handle);
    return copy !== undefined;
  }

  /** The copy of a file that was read to `entry.offset` (a held copy, or one in the same directory), set to be read from there on; undefined when there is none. */
  private async continueFromCopy(entry: SavedFile, reportAs: string, exceptKey: string): Promise<TailedFile | undefined> {
    if (entry.fingerprint.length === 0) return undefined;
    let copy = [...this.files.values()].find((file) => file.role === "copy" && file.key !== exceptKey && file.fingerprint.hash === entry.fingerprint.hash);
    if (copy) {
      copy.size = Number((await copy.handle.stat()).size);
      if (copy.size < entry.offset) copy = undefined;
    }
    if (!copy) {
      const path = await this.findInDirectory(dirname(entry.path), (candidate) => !this.files.has(fileKey(candidate)) && fileKey(candidate) !== exceptKey && Number(candidate.size) >= Math.max(entry.offset, entry.fingerprint.length));
      if (path) copy = await this.track(path, (_stat, handle) => (beginsWith(handle, entry.fingerprint) ? entry.offset : -1));
      if (copy && copy.readPos < 0) {
        await this.forget(copy);
        return undefined;
      }
    }
    if (!copy) return undefined;
    this.count("files_copies_continued");
    copy.restart(entry.offset);
    copy.file = reportAs;
    copy.role = "rotated";
    copy.catchUp();
    copy.lastGrowthAt = Date.now();
    return copy;
  }

  /**
   * A live file that a newly seen file is a copy of: the same first
   * FINGERPRINT_BYTES as the content being read there (the live file may
   * already be truncated: copytruncate is over before a scan sees the copy).
   */
  private copyOf(file: TailedFile): TailedFile | undefined {
    if (file.fingerprint.length < FINGERPRINT_BYTES) return undefined;
    return [...this.files.values()].find((other) => other !== file && other.role === "live" && other.fingerprint.hash === file.fingerprint.hash);
  }

  private async findInDirectory(directory: string, accept: (stat: BigIntStats) => boolean): Promise<string | undefined> {
    const names = await readdir(directory).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(directory, name);
      if (this.excluded(path)) continue;
      const found = await stat(path, { bigint: true }).catch(() => undefined);
      if (found?.isFile() && accept(found)) return path;
    }
    return undefined;
  }

  private async track(path: string, offset: (stat: BigIntStats, handle: FileHandle) => number): Promise<TailedFile | undefined> {
    const file = await TailedFile.open(path, offset, this.options.records);
    if (!file) return undefined;
    const existing = this.files.get(file.key);
    if (existing) {
      await file.close();
      return existing;
    }
    this.files.set(file.key, file);
    return file;
  }

  private async forget(file: TailedFile): Promise<void> {
    this.files.delete(file.key);
    await file.close();
  }

  private deliver(file: TailedFile): boolean {
    return file.deliver((record) => this.context.emit(this.toEvent(record, file)));
  }

  private toEvent(record: LogRecord, file: TailedFile): AgentEvent {
    const fields: AgentEvent["fields"] = { file: file.file, offset: record.offset };
    if (record.truncated) {
      fields.truncated = true;
      this.count("files_records_truncated");
    }
    return { source: this.context.name, kind: "log", time: Date.now(), message: record.message, fields };
  }

  private idleMs(): number {
    let wait = this.options.pollMs;
    const now = Date.now();
    for (const file of this.files.values()) {
      if (file.assembler.hasPending) wait = Math.min(wait, Math.max(1, file.lastLineAt + this.options.multilineIdleMs - now));
    }
    return wait;
  }

  private async waitForRoom(): Promise<void> {
    this.count("files_backpressure");
    await Promise.race([this.context.drained(), new Promise<void>((resolve) => this.signal.addEventListener("abort", () => resolve(), { once: true }))]);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.context.warn(message);
  }

  private count(name: string): void {
    this.context.counters.inc(name);
  }
}

function unreadOrGone(file: TailedFile): boolean {
  try {
    return file.hasUnread();
  } catch {
    return false;
  }
}

/** Old content (files rotated away, a copy's unread end) first, so a file's records keep their order. */
function rank(file: TailedFile): number {
  return file.catchingUp ? 0 : 1;
}
