// A steady stream of short processes: a uniquely named link to /bin/true
// started `rate` times a second for `seconds`, paced in 10 ms slices, with a
// bounded number in flight. Each start's pid and wall time are kept, so a
// benchmark can match what an observer saw against what was started.
// Run alone: bun bench/agent/spawn-load.ts [rate] [seconds] [workers]  (prints what it reached)
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SpawnLoad {
  /** The comm every started process has (the link's name, at most 15 bytes). */
  comm: string;
  /** [pid, wall time (epoch ms) just before its start], in start order (pids wrap at pid_max: one may come back). */
  started: [number, number][];
  /** Processes a second actually started. */
  achievedRate: number;
  /** Slices that could not start their share before the next one (the machine's ceiling). */
  lateSlices: number;
}

export interface SpawnLoadOptions {
  rate: number;
  seconds: number;
  /** Name prefix of the link (the comm); a random suffix makes it unique. */
  prefix?: string;
  maxInFlight?: number;
}

/** A uniquely named link to /bin/true, in a fresh directory; remove() takes both away. */
export function namedTrue(prefix = "okload"): { path: string; comm: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "opskit-spawn-load-"));
  const comm = `${prefix}${crypto.randomUUID().replaceAll("-", "")}`.slice(0, 15);
  const path = join(dir, comm);
  symlinkSync("/bin/true", path);
  return { path, comm, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts rate processes a second for seconds; resolves once all have exited. */
export async function spawnLoad(options: SpawnLoadOptions, program = namedTrue(options.prefix)): Promise<SpawnLoad> {
  const { rate, seconds } = options;
  const maxInFlight = options.maxInFlight ?? 512;
  const started: [number, number][] = [];
  const exits = new Set<Promise<unknown>>();
  const sliceMs = 10;
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  let lateSlices = 0;
  for (let slice = 0; started.length < total; slice++) {
    // The share due by the end of this slice, whatever earlier slices missed.
    const due = Math.min(total, Math.round((rate * (slice + 1) * sliceMs) / 1000));
    while (started.length < due) {
      while (exits.size >= maxInFlight) await Promise.race(exits);
      const at = Date.now();
      const child = Bun.spawn([program.path], { stdio: ["ignore", "ignore", "ignore"] });
      started.push([child.pid, at]);
      const exit: Promise<unknown> = child.exited.then(() => exits.delete(exit));
      exits.add(exit);
    }
    const wait = t0 + (slice + 1) * sliceMs - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    else lateSlices++;
  }
  const elapsedMs = performance.now() - t0;
  await Promise.all(exits);
  return { comm: program.comm, started, achievedRate: (started.length * 1000) / elapsedMs, lateSlices };
}

/**
 * The same load from several processes (one Bun process starts about 3,000
 * a second here): each starts rate/workers a second of the same program.
 */
export async function spawnLoadFrom(workers: number, options: SpawnLoadOptions, program = namedTrue(options.prefix)): Promise<SpawnLoad> {
  if (workers <= 1) return spawnLoad(options, program);
  const children = Array.from({ length: workers }, () =>
    Bun.spawn([process.execPath, import.meta.path, "--worker", String(options.rate / workers), String(options.seconds), program.path, program.comm], { stdin: "ignore", stdout: "pipe", stderr: "inherit" }),
  );
  const results = await Promise.all(children.map(async (child) => JSON.parse(await new Response(child.stdout).text()) as SpawnLoad));
  const started = results.flatMap((r) => r.started).sort((a, b) => a[1] - b[1]);
  return { comm: program.comm, started, achievedRate: results.reduce((sum, r) => sum + r.achievedRate, 0), lateSlices: results.reduce((sum, r) => sum + r.lateSlices, 0) };
}

if (import.meta.main && process.argv[2] === "--worker") {
  const [rate, seconds, path, comm] = process.argv.slice(3) as [string, string, string, string];
  const load = await spawnLoad({ rate: Number(rate), seconds: Number(seconds) }, { path, comm, remove: () => undefined });
  console.log(JSON.stringify(load));
} else if (import.meta.main) {
  const rate = Number(process.argv[2] ?? 1000);
  const seconds = Number(process.argv[3] ?? 5);
  const workers = Number(process.argv[4] ?? 1);
  const program = namedTrue();
  try {
    const load = await spawnLoadFrom(workers, { rate, seconds }, program);
    console.log(`asked ${rate}/s for ${seconds}s: started ${load.started.length} (${load.achievedRate.toFixed(0)}/s), ${load.lateSlices} late 10 ms slices, comm ${load.comm}`);
  } finally {
    program.remove();
  }
}
