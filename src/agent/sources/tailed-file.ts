/*
 * One open log file: its identity (device, inode, and a fingerprint of its
 * first bytes, so a reused inode or a file truncated and written again is not
 * taken for the old one), how far it has been read, the records read but not
 * yet taken by the agent, and the offset that is safe to persist (nothing
 * before it is still owed).
 */
import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { fstatSync, readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { RecordAssembler, type LogRecord, type RecordOptions } from "./log-records.ts";

// Reads and fstat on an open descriptor are synchronous: on a local disk they
// are page-cache copies of microseconds, and the asynchronous calls' hand-off
// to a thread pool cost twice the CPU (6% of a core against 3% at 1,000
// lines/s, bench/agent-logs.ts). The price: a read stalled on a network
// filesystem stalls the agent's loop. Opening and scanning stay asynchronous.

/** How many leading bytes identify a file (as Vector's and Filebeat's fingerprints do). */
export const FINGERPRINT_BYTES = 256;
const CHUNK_BYTES = 128 * 1024;

export interface Fingerprint {
  /** sha256 of the file's first `length` bytes. */
  hash: string;
  length: number;
}

export const fileKey = (stat: { dev: bigint; ino: bigint }) => `${stat.dev}:${stat.ino}`;

const hashOf = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

function headOf(handle: FileHandle, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const bytesRead = readSync(handle.fd, buffer, 0, length, 0);
  return buffer.subarray(0, bytesRead);
}

/** The fingerprint of what the file holds now. */
export function fingerprintOf(handle: FileHandle): Fingerprint {
  const head = headOf(handle, FINGERPRINT_BYTES);
  return { hash: hashOf(head), length: head.length };
}

/** Whether the file still begins with the bytes the fingerprint was taken of. */
export function beginsWith(handle: FileHandle, fingerprint: Fingerprint): boolean {
  if (fingerprint.length === 0) return true;
  const head = headOf(handle, fingerprint.length);
  return head.length === fingerprint.length && hashOf(head) === fingerprint.hash;
}

export type Role = "live" | "rotated" | "copy";

export class TailedFile {
  readonly key: string;
  /** Where the file was last seen. */
  path: string;
  /** What its events name as fields.file: the path it was tailed under, kept across a rename or for a copytruncate's copy. */
  file: string;
  /** live: a configured path names it; rotated: none does any more (renamed away or deleted), it is read to its end and closed; copy: a copy of what a live file held, not read (a copytruncate in progress, or a copy someone made). */
  role: Role = "live";
  /** Next byte to read. */
  readPos: number;
  assembler: RecordAssembler;
  private outbox: LogRecord[] = [];
  private outIndex = 0;
  fingerprint: Fingerprint;
  /**
   * Old content of `file` (a file rotated away, or a copytruncate's copy):
   * other files reported under the same name wait until this one has been
   * read to its end, so a file's records keep their order across rotation.
   */
  catchingUp = false;
  reachedEnd = false;
  size = 0;
  lastGrowthAt: number;
  lastLineAt: number;
  closed = false;

  private constructor(
    readonly handle: FileHandle,
    stat: BigIntStats,
    path: string,
    offset: number,
    fingerprint: Fingerprint,
    private readonly options: RecordOptions,
    now: number,
  ) {
    this.key = fileKey(stat);
    this.path = path;
    this.file = path;
    this.readPos = offset;
    this.assembler = new RecordAssembler(options, offset);
    this.fingerprint = fingerprint;
    this.size = Number(stat.size);
    this.lastGrowthAt = now;
    this.lastLineAt = now;
  }

  /** Opens a file to read from `offset`; undefined when it went away or is not a regular file. */
  static async open(path: string, offset: (stat: BigIntStats, handle: FileHandle) => number, options: RecordOptions): Promise<TailedFile | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch {
      return undefined;
    }
    const stat = await handle.stat({ bigint: true });
    if (!stat.isFile()) {
      await handle.close();
      return undefined;
    }
    const fingerprint = fingerprintOf(handle);
    return new TailedFile(handle, stat, path, offset(stat, handle), fingerprint, options, Date.now());
  }

  /** Offset up to which every record has been taken: where a restart resumes. */
  get committed(): number {
    return this.outIndex < this.outbox.length ? this.outbox[this.outIndex]!.offset : this.assembler.resumeOffset;
  }

  get owes(): boolean {
    return this.outIndex < this.outbox.length;
  }

  /** Reads from `offset` again with nothing held (after a truncation, or as a copy's continuation). */
  restart(offset: number): void {
    this.readPos = offset;
    this.assembler = new RecordAssembler(this.options, offset);
    this.reachedEnd = false;
  }

  /** What is left of this file must be read before anything newer under its name. */
  catchUp(): void {
    this.catchingUp = true;
    this.reachedEnd = false;
  }

  /**
   * Whether the file was truncated (shorter than what was read) or replaced
   * in place (its first bytes changed: truncated and written past the old
   * offset between two looks). Extends the fingerprint while the file is
   * shorter than its length.
   */
  async truncated(): Promise<boolean> {
    const size = fstatSync(this.handle.fd).size;
    if (size < this.readPos) return true;
    if (size > this.size) this.lastGrowthAt = Date.now();
    this.size = size;
    if (this.fingerprint.length === FINGERPRINT_BYTES && size === this.readPos) return false;
    if (!beginsWith(this.handle, this.fingerprint)) return true;
    if (this.fingerprint.length < FINGERPRINT_BYTES && size > this.fingerprint.length) this.fingerprint = fingerprintOf(this.handle);
    return false;
  }

  /** Reads up to `budget` bytes into records; returns how many bytes it read. */
  async read(budget: number): Promise<number> {
    let total = 0;
    while (total < budget) {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, budget - total));
      const bytesRead = readSync(this.handle.fd, buffer, 0, buffer.length, this.readPos);
      if (bytesRead === 0) {
        this.reachedEnd = true;
        break;
      }
      this.readPos += bytesRead;
      total += bytesRead;
      if (this.outIndex === this.outbox.length) {
        this.outbox = [];
        this.outIndex = 0;
      }
      const before = this.outbox.length;
      this.assembler.push(buffer.subarray(0, bytesRead), this.outbox);
      if (this.outbox.length > before || this.assembler.hasPending) this.lastLineAt = Date.now();
      if (bytesRead < buffer.length) {
        this.reachedEnd = true;
        break;
      }
    }
    if (total > 0) this.lastGrowthAt = Date.now();
    return total;
  }

  /** Hands out the pending multi-line record if it has waited `idleMs` for a continuation. */
  flushIdle(now: number, idleMs: number): void {
    if (this.assembler.hasPending && !this.assembler.hasPartial && now - this.lastLineAt >= idleMs) this.assembler.flushPending(this.outbox);
  }

  /** Hands out the pending multi-line record now: the file's writer has moved on to its successor. */
  flushPending(): void {
    this.assembler.flushPending(this.outbox);
  }

  /** Whether there is something past what was read (or the file shrank). */
  hasUnread(): boolean {
    return fstatSync(this.handle.fd).size !== this.readPos;
  }

  /** The file is done (rotated away and idle, or truncated with no copy left): its last unfinished line and pending record are records too. */
  flushAll(): void {
    this.assembler.flushAll(this.outbox);
  }

  /** Offers the records read to `take` in order, until it refuses one (false: the rest wait). */
  deliver(take: (record: LogRecord, file: TailedFile) => boolean): boolean {
    while (this.outIndex < this.outbox.length) {
      if (!take(this.outbox[this.outIndex]!, this)) return false;
      this.outbox[this.outIndex++] = undefined as unknown as LogRecord;
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => {});
  }
}
