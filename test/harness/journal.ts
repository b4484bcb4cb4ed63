// Journal files for the agent's journald tests, written by systemd's own
// systemd-journal-remote from the Journal Export Format
// (systemd.io/JOURNAL_EXPORT_FORMATS) on its standard input, so journalctl
// reads real journal files (live, while they are written) without a running
// journald: containers usually have none.
import { existsSync } from "node:fs";
import { join } from "node:path";

const JOURNAL_REMOTE = ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"].find((path) => existsSync(path));

export type JournalFields = Record<string, string | Uint8Array>;

/** A field in export format: KEY=value, or KEY, newline, little-endian 64-bit size, the bytes, for values that are binary or hold a newline. */
function exportField(name: string, value: string | Uint8Array): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value) : Buffer.from(value);
  const text = typeof value === "string" && !value.includes("\n");
  if (text) return Buffer.concat([Buffer.from(`${name}=`), bytes, Buffer.from("\n")]);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([Buffer.from(`${name}\n`), size, bytes, Buffer.from("\n")]);
}

let sequence = 0;

/** One entry in export format; the timestamps and boot id are filled in unless given. */
export function exportEntry(fields: JournalFields, boot = "0123456789abcdef0123456789abcdef"): Buffer {
  sequence++;
  const all: JournalFields = {
    __REALTIME_TIMESTAMP: String(Date.now() * 1000 + (sequence % 1000)),
    __MONOTONIC_TIMESTAMP: String(1_000_000 + sequence),
    _BOOT_ID: boot,
    ...fields,
  };
  return Buffer.concat([...Object.entries(all).map(([name, value]) => exportField(name, value)), Buffer.from("\n")]);
}

export interface JournalWriter {
  /** The journal file journalctl reads (--file), in `directory` (--directory). */
  file: string;
  directory: string;
  write(entries: JournalFields[], boot?: string): Promise<void>;
  /** Closes the input: systemd-journal-remote writes what is left and exits. */
  close(): Promise<void>;
}

/** systemd-journal-remote writing DIRECTORY/NAME.journal from entries written to it. */
export function startJournalWriter(directory: string, name = "remote"): JournalWriter {
  if (!JOURNAL_REMOTE) throw new Error("systemd-journal-remote is not installed (Debian package systemd-journal-remote; scripts/setup.sh installs it)");
  const file = join(directory, `${name}.journal`);
  const child = Bun.spawn([JOURNAL_REMOTE, `--output=${file}`, "--split-mode=none", "-"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
  return {
    file,
    directory,
    async write(entries, boot) {
      child.stdin.write(Buffer.concat(entries.map((entry) => exportEntry(entry, boot))));
      await child.stdin.flush();
    },
    async close() {
      await child.stdin.end();
      const code = await child.exited;
      if (code !== 0) throw new Error(`systemd-journal-remote exited ${code}: ${await new Response(child.stderr).text()}`);
    },
  };
}

/** Waits until journalctl sees `count` entries in the directory (systemd-journal-remote writes asynchronously). */
export async function waitForJournal(directory: string, count: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const child = Bun.spawn(["journalctl", `--directory=${directory}`, "--merge", "--output=json", "--output-fields=MESSAGE", "--no-pager", "--quiet"], { stdout: "pipe", stderr: "ignore" });
    const text = await new Response(child.stdout).text();
    await child.exited;
    if (text.split("\n").filter(Boolean).length >= count) return;
    if (Date.now() > deadline) throw new Error(`the journal in ${directory} never held ${count} entries`);
    await Bun.sleep(20);
  }
}
