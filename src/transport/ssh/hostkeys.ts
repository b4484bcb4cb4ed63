import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { OpsError } from "../../errors.ts";
import { compilePatternList, sshPattern, type Matcher } from "../../glob/index.ts";
import { hostKeyChangedError, hostKeyRevokedError, hostKeyUnknownError, knownHostsWriteError } from "./errors.ts";
import type { HostKeyChecking, SshEndpoint } from "./types.ts";

// OpenSSH known_hosts, as sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" describes it:
//   [@marker] pattern[,pattern...] keytype base64-key [comment]
// A pattern is a name, `[name]:port` for a port other than 22, a glob with *
// and ?, `!pattern` to exclude, or `|1|salt|hmac` (HMAC-SHA1 of the name) when
// HashKnownHosts is on.
// Our own reader on purpose: ssh2 checks no host keys itself (it hands the key
// to a callback), and no maintained npm package reads this format whole
// (markers, hashed names, negation, ports); the OpenSSH client is the anchor
// the tests hold it to (test/ssh-config-hostkeys.test.ts).

export interface KnownHostEntry {
  line: number;
  marker: "" | "@revoked" | "@cert-authority";
  patterns: string[];
  keyType: string;
  blob: Buffer;
}

/** "SHA256:..." as `ssh-keygen -l` prints it. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The algorithm name at the start of an SSH wire-format public key ("ssh-ed25519"). */
export function keyTypeOf(blob: Uint8Array): string {
  if (blob.length < 4) return "unknown";
  const length = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0);
  return Buffer.from(blob.subarray(4, 4 + length)).toString("latin1");
}

/** The name a host is recorded under: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const fields = (lines[index] ?? "").trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === "" || fields[0].startsWith("#")) continue;
    let marker: KnownHostEntry["marker"] = "";
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") marker = fields.shift() as KnownHostEntry["marker"];
    const [patterns, keyType, key] = fields;
    if (!patterns || !keyType || !key) continue;
    const blob = Buffer.from(key, "base64");
    // A line whose key does not decode, or names another type, is skipped as OpenSSH does.
    if (blob.length === 0 || keyTypeOf(blob) !== keyType) continue;
    entries.push({ line: index + 1, marker, patterns: patterns.split(","), keyType, blob });
  }
  return entries;
}

/** A name hashed with HashKnownHosts (`|1|salt|hmac`), or an OpenSSH glob. */
function hostPattern(pattern: string): Matcher {
  if (!pattern.startsWith("|1|")) return sshPattern(pattern);
  const [, , salt, hash] = pattern.split("|");
  return { test: (name) => Boolean(salt && hash) && createHmac("sha1", Buffer.from(salt!, "base64")).update(name).digest("base64") === hash };
}

/** OpenSSH's rule: a line matches when some pattern matches and no negated one does. */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  return compilePatternList(entry.patterns, hostPattern).test(name);
}

/** An accepted key says why: the known_hosts line it matched, or that it was learned (accept-new) or not checked (off). */
export type HostKeyVerdict = { ok: true; learned: boolean; matched?: { file: string; line: number } } | { ok: false; error: OpsError };

/** ssh2's host key algorithm names, newest first, as it offers them by default. */
const hostKeyAlgorithms: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/** An entry with the file it was read from. */
type FiledEntry = KnownHostEntry & { file: string };

/** A name as OpenSSH's case-insensitive match compares it: code point by code point, each folded. */
const foldedKey = (name: string) => JSON.stringify(Array.from(name, (c) => c.toLowerCase()));

/** A pattern that matches one name only: no `*` or `?`, not negated, not hashed. */
const isPlainName = (pattern: string) => !/[*?]/.test(pattern) && !pattern.startsWith("!") && !pattern.startsWith("|1|");

/**
 * The entries of a KnownHosts, indexed for lookup: an entry of plain names
 * (the common case, and what accept-new writes) under each of its names, any
 * other (globs, negations, hashed names) with its pattern list compiled once
 * and tested on each lookup. A fleet of N hosts then costs N lookups of
 * about constant time, not N scans of an N-line file. Lookups return entries
 * in file order, as a scan would.
 */
class EntryIndex {
  private readonly byName = new Map<string, number[]>();
  private readonly patterned: Array<{ at: number; matcher: Matcher }> = [];
  private readonly entries: FiledEntry[] = [];

  add(entry: FiledEntry): void {
    const at = this.entries.push(entry) - 1;
    if (entry.marker === "@cert-authority") return;
    if (!entry.patterns.every(isPlainName)) {
      this.patterned.push({ at, matcher: compilePatternList(entry.patterns, hostPattern) });
      return;
    }
    for (const key of new Set(entry.patterns.map(foldedKey))) {
      const list = this.byName.get(key);
      if (list) list.push(at);
      else this.byName.set(key, [at]);
    }
  }

  /** The entries (no @cert-authority line) whose patterns match `name`, in file order. */
  lookup(name: string): FiledEntry[] {
    const found = [...(this.byName.get(foldedKey(name)) ?? [])];
    for (const { at, matcher } of this.patterned) if (matcher.test(name)) found.push(at);
    return found.sort((a, b) => a - b).map((at) => this.entries[at]!);
  }
}

/**
 * The known_hosts files of one pool (or of the hosts that name their own,
 * as ssh_config's UserKnownHostsFile does): read once, consulted for every
 * connection, all of them as one list as OpenSSH does, and the first
 * appended to (one write at a time) when accept-new learns a key.
 */
export class KnownHosts {
  private writes: Promise<void> = Promise.resolve();
  private writeError: OpsError | undefined;
  private readonly index = new EntryIndex();

  private constructor(
    readonly files: readonly string[],
    entries: FiledEntry[],
    private lineCount: number,
    private endsWithNewline: boolean,
  ) {
    for (const entry of entries) this.index.add(entry);
  }

  /** The file a learned key is written to. */
  get file(): string {
    return this.files[0]!;
  }

  static async load(files: string | readonly string[]): Promise<KnownHosts> {
    const list = typeof files === "string" ? [files] : files;
    const entries: FiledEntry[] = [];
    let firstLines = 0;
    let firstEndsWithNewline = true;
    for (const [index, file] of list.entries()) {
      let text = "";
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw Object.assign(error as Error, { file });
      }
      entries.push(...parseKnownHosts(text).map((entry) => ({ ...entry, file })));
      if (index === 0) {
        firstLines = text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
        firstEndsWithNewline = text === "" || text.endsWith("\n");
      }
    }
    return new KnownHosts(list, entries, firstLines, firstEndsWithNewline);
  }

  /** The entries recorded for host:port (@cert-authority lines aside), in file order. */
  lookup(host: string, port: number): FiledEntry[] {
    return this.index.lookup(knownHostName(host, port));
  }

  /**
   * Host key algorithms to offer, the types already recorded for this host
   * first: as OpenSSH does, so a host with several keys is checked against
   * the one we know rather than looking new or changed.
   */
  preferredAlgorithms(host: string, port: number): string[] {
    const known = new Set(this.lookup(host, port).filter((e) => e.marker === "").map((e) => e.keyType));
    const all = Object.keys(hostKeyAlgorithms);
    const ordered = [...all.filter((type) => known.has(type)), ...all.filter((type) => !known.has(type))];
    return ordered.flatMap((type) => hostKeyAlgorithms[type] ?? []);
  }

  /**
   * Decides on the key a server offered. Runs synchronously inside the key
   * exchange; a learned key is recorded in memory at once (so a second
   * connection to the host sees it) and written to the file in the background.
   */
  verify(endpoint: SshEndpoint, blob: Buffer, mode: HostKeyChecking): HostKeyVerdict {
    const verdict = this.decide(endpoint, blob, mode);
    return verdict.ok || !endpoint.hostKeyNotes?.length ? verdict : { ok: false, error: withNotes(verdict.error, endpoint.hostKeyNotes) };
  }

  private decide(endpoint: SshEndpoint, blob: Buffer, mode: HostKeyChecking): HostKeyVerdict {
    if (mode === "off") return { ok: true, learned: false };
    const offeredType = keyTypeOf(blob);
    const offered = fingerprintOf(blob);
    const entries = this.lookup(endpoint.host, endpoint.port);
    const revoked = entries.find((e) => e.marker === "@revoked" && e.blob.equals(blob));
    if (revoked) return { ok: false, error: hostKeyRevokedError(endpoint, this.describe(revoked)) };
    const plain = entries.filter((e) => e.marker === "");
    const known = plain.find((e) => e.blob.equals(blob));
    if (known) return { ok: true, learned: false, matched: { file: known.file, line: known.line } };
    // Any recorded key that does not match is a change, also when its type
    // differs: the offer prefers recorded types, so the host dropped that key.
    const recorded = plain.find((e) => e.keyType === offeredType) ?? plain[0];
    const name = knownHostName(endpoint.host, endpoint.port);
    if (recorded) return { ok: false, error: hostKeyChangedError(endpoint, name, this.describe(recorded), offeredType, offered) };
    if (mode === "strict") return { ok: false, error: hostKeyUnknownError(endpoint, this.files.join(", "), offeredType, offered) };
    this.learn(name, offeredType, blob);
    return { ok: true, learned: true };
  }

  /** Waits for learned keys to reach the file; rejects when one could not be written. */
  async flush(): Promise<void> {
    await this.writes;
    if (this.writeError) throw this.writeError;
  }

  private learn(name: string, keyType: string, blob: Buffer): void {
    this.lineCount += 1;
    this.index.add({ line: this.lineCount, marker: "", patterns: [name], keyType, blob, file: this.file });
    // Plain names, not hashed: the file stays readable and `ssh-keygen -R` finds either form.
    const prefix = this.endsWithNewline ? "" : "\n";
    this.endsWithNewline = true;
    const text = `${prefix}${name} ${keyType} ${blob.toString("base64")}\n`;
    this.writes = this.writes.then(async () => {
      try {
        await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
        await appendFile(this.file, text, { mode: 0o600 });
      } catch (error) {
        this.writeError ??= knownHostsWriteError(this.file, error);
      }
    });
  }

  private describe(entry: FiledEntry) {
    return { file: entry.file, line: entry.line, keyType: entry.keyType, fingerprint: fingerprintOf(entry.blob) };
  }
}

/**
 * A refusal for a host whose config asked for less checking says, in the
 * message (run output shows messages), which settings were not followed.
 */
function withNotes(error: OpsError, notes: readonly string[]): OpsError {
  const message = `${error.message}; host key checking stays on for this host: ${notes.join("; ")}`;
  return new OpsError({ code: error.code, message, ...(error.hint !== undefined ? { hint: error.hint } : {}), exitCode: error.exitCode });
}
