import { closeSync, openSync, readFileSync, readlinkSync, readSync } from "node:fs";

// The agent's footprint beyond its own data, on machines with tens of MB to
// spare: how eagerly JavaScriptCore compiles, and the pages of the executable
// that only startup needed. Measured with bench/agent/memory.ts.

/**
 * JavaScriptCore's tier-up thresholds for the agent, times normal. Starting
 * runs code once (the config's YAML and zod, the CEL compiler) whose compiled
 * forms, and the optimizing compilers' own pages of the executable, would
 * stay resident for nothing; running, the work per event is small. Code a
 * burst runs often still reaches the optimizing tiers (the thresholds count
 * executions). Measured with bench/agent/memory.ts, 60 s at 1,000 lines/s:
 * 6 MB less resident than at 1, for 1% of a core more (3.5% against 2.5%).
 * At 10,000 lines/s the agent used 7.9% of a core over the minute, against
 * 5.2% before this and the page release: a burst warms up more slowly.
 */
export const AGENT_JIT_POLICY = 1000;

/** Scales JavaScriptCore's tier-up thresholds (1 is normal), where the runtime can. */
export function setJitPolicy(scale: number): void {
  Bun.unsafe?.setJITPolicy?.(scale);
}

const MADV_RANDOM = 1;
const MADV_PAGEOUT = 21;
/** A pagemap entry's bit 63, in its upper 32 bits: the page is resident. */
const PRESENT_HIGH = 1 << 31;
/** Bit 61: a page of a file (or shared memory); clear for an anonymous page, such as a copy-on-write copy of the executable's data. */
const FILE_HIGH = 1 << 29;

/**
 * Hands back to the kernel the pages of the executable this process has
 * mapped so far and maps alone: the code and embedded modules that starting
 * ran (the config's parser and validator, the CEL compiler, the startup of
 * the runtime itself). Those are clean pages of the file, which the kernel
 * would reclaim under memory pressure anyway; madvise(MADV_PAGEOUT, Linux
 * 5.4) reclaims them now, so the agent's resident set is the code it keeps
 * running, which comes back as it is used (MADV_RANDOM: one page at a time,
 * without the neighbours read-around would bring). Anonymous pages (the data
 * the executable's relocations wrote) are left alone: without swap they
 * cannot go, with it they would only come back. Measured with
 * bench/agent/memory.ts: about 20 MB at start, 12 MB after a minute at 1,000
 * log lines/s. Returns the bytes released, or undefined where this is not
 * available (another OS, an older kernel).
 */
export async function releaseStartupPages(): Promise<number | undefined> {
  if (process.platform !== "linux") return undefined;
  let madvise: (address: bigint, length: bigint, advice: number) => number;
  try {
    const { dlopen, FFIType } = await import("bun:ffi");
    const libc = dlopen("libc.so.6", { madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
    madvise = libc.symbols.madvise;
  } catch {
    return undefined;
  }
  const before = residentFileBytes();
  const executable = readlinkSync("/proc/self/exe");
  const page = pageSize();
  const pagemap = openSync("/proc/self/pagemap", "r");
  try {
    for (const { start, end } of mappingsOf(executable)) {
      for (const run of filePageRuns(pagemap, page, start, end)) {
        // EINVAL: a kernel before MADV_PAGEOUT; nothing else to try.
        if (madvise(run.start, run.end - run.start, MADV_PAGEOUT) !== 0) return undefined;
      }
      // From here on, read as used, page by page: read-around would map neighbours the agent never runs.
      madvise(start, end - start, MADV_RANDOM);
    }
  } finally {
    closeSync(pagemap);
  }
  return Math.max(0, before - residentFileBytes());
}

/** The kernel's page size (AT_PAGESZ in the auxiliary vector): 4 KiB on x64, 4, 16 or 64 KiB on arm64. */
function pageSize(): bigint {
  const auxv = readFileSync("/proc/self/auxv");
  for (let at = 0; at + 16 <= auxv.length; at += 16) {
    if (auxv.readBigUInt64LE(at) === 6n) return auxv.readBigUInt64LE(at + 8);
  }
  return 4096n;
}

/** The address ranges a file is mapped at in this process. */
function mappingsOf(file: string): { start: bigint; end: bigint }[] {
  const found: { start: bigint; end: bigint }[] = [];
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    // 00200000-01a39000 r--p 00000000 fe:00 1234 /path/to/opskit
    const match = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+(.*)$/.exec(line);
    if (match && match[3] === file) found.push({ start: BigInt(`0x${match[1]}`), end: BigInt(`0x${match[2]}`) });
  }
  return found;
}

/** Runs of consecutive pages in [start, end) that are resident pages of the file, from /proc/self/pagemap (8 bytes a page). */
function* filePageRuns(pagemap: number, page: bigint, start: bigint, end: bigint): Generator<{ start: bigint; end: bigint }> {
  const pages = Number((end - start) / page);
  const bytes = new Uint8Array(pages * 8);
  let read = 0;
  while (read < bytes.length) {
    const n = readSync(pagemap, bytes, read, bytes.length - read, Number((start / page) * 8n) + read);
    if (n <= 0) break;
    read += n;
  }
  // Each entry is a little-endian u64: its flags sit in the upper 32 bits (bit 63 is bit 31 there).
  const words = new Uint32Array(bytes.buffer);
  const at = (index: number) => start + BigInt(index) * page;
  let runStart = -1;
  for (let i = 0; i < pages; i++) {
    const high = words[i * 2 + 1]!;
    const filePage = (high & PRESENT_HIGH) !== 0 && (high & FILE_HIGH) !== 0;
    if (filePage && runStart < 0) runStart = i;
    if (!filePage && runStart >= 0) {
      yield { start: at(runStart), end: at(i) };
      runStart = -1;
    }
  }
  if (runStart >= 0) yield { start: at(runStart), end };
}

/** RssFile of this process, in bytes. */
function residentFileBytes(): number {
  const match = /^RssFile:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}
