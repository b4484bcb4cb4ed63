// What machine and which tool versions a benchmark run measured, for RESULTS.md.
import { cpus, loadavg, release, totalmem } from "node:os";
import { readFileSync } from "node:fs";
import { opskitBin, root } from "./process.ts";

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  os: string;
  loadAverage: string;
  tools: Record<string, string>;
}

function firstLine(cmd: string[]): string {
  try {
    const result = Bun.spawnSync(cmd, { cwd: root, stdout: "pipe", stderr: "pipe" });
    const text = result.stdout.toString().trim() || result.stderr.toString().trim();
    return text.split("\n")[0] ?? "";
  } catch {
    return "not installed";
  }
}

function osName(): string {
  const line = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"));
  return line?.[1] ?? "unknown";
}

function cpuModel(): string {
  // /proc/cpuinfo's model name is what the guest is told; a VM may name only the family.
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim();
  return model || cpus()[0]?.model || "unknown";
}

export function describeMachine(): Machine {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpu: cpuModel(),
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    os: osName(),
    loadAverage: loadavg().map((n) => n.toFixed(2)).join(" "),
    tools: {
      opskit: firstLine([opskitBin, "--version"]),
      curl: firstLine(["curl", "--version"]).split(" ").slice(0, 2).join(" "),
      hyperfine: firstLine(["hyperfine", "--version"]),
      blackbox_exporter: firstLine(["prometheus-blackbox-exporter", "--version"]).replace(/\s*\(branch.*$/, ""),
      wrk: firstLine(["wrk", "-v"]).split(" [")[0] ?? "",
      // The probe throughput benchmark's endpoints; nginx -v prints on stderr.
      nginx: firstLine(["sh", "-c", "PATH=$PATH:/usr/sbin nginx -v"]),
      Alertmanager: firstLine(["prometheus-alertmanager", "--version"]).replace(/\s*\(branch.*$/, ""),
      // The runtime of the storm's load generator.
      bun: `bun ${Bun.version}`,
      // ssh -V prints its version on stderr.
      OpenSSH: firstLine(["ssh", "-V"]).split(",")[0] ?? "",
      "parallel-ssh": `parallel-ssh ${firstLine(["parallel-ssh", "--version"])}`,
      ansible: firstLine(["ansible", "--version"]),
      // The stop benchmark's script anchor, and what counts the remote processes left.
      timeout: firstLine(["timeout", "--version"]),
      pgrep: firstLine(["pgrep", "-V"]),
      shellcheck: firstLine(["sh", "-c", "shellcheck --version | sed -n 2p"]),
      sqlite3: `sqlite3 ${firstLine(["sqlite3", "--version"]).split(" ")[0]}`,
      // Debian's python3 and its pandas, which the MTTR benchmark runs.
      pandas: firstLine(["/usr/bin/python3", "-c", "import sys, pandas, numpy; print(f'pandas {pandas.__version__}, numpy {numpy.__version__}, Python {sys.version.split()[0]}')"]),
      // The MTTR benchmark's analytic anchor, a dev dependency run under Node.
      DuckDB: `@duckdb/node-api ${duckdbVersion()} under Node ${firstLine(["node", "--version"])}`,
      // The soak's browser (Debian's chromium, driven by playwright-core).
      Chromium: firstLine(["chromium", "--version"]),
      // The agent benchmark's kernel side and its two baselines (polling /proc in python3, tail -F into a bash loop posting with jq and curl).
      bpftrace: firstLine(["bpftrace", "--version"]),
      python3: firstLine(["/usr/bin/python3", "--version"]),
      tail: firstLine(["tail", "--version"]),
      bash: firstLine(["bash", "--version"]),
      jq: firstLine(["jq", "--version"]),
      // Debian's GNU time calls itself version UNKNOWN; its package knows.
      "GNU time": `time ${firstLine(["dpkg-query", "-W", "-f", "${Version}", "time"])}`,
    },
  };
}

function duckdbVersion(): string {
  try {
    return (JSON.parse(readFileSync("node_modules/@duckdb/node-api/package.json", "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

const clockTicksPerSecond = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

function cpuTicks(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU seconds all cores have spent busy since boot (/proc/stat): differences give what a run cost the whole machine. */
export function busyCpuSeconds(): number {
  return cpuTicks().busy / clockTicksPerSecond;
}

/** How busy all cores were over the next `ms` (0-100%): other work on a shared machine skews a benchmark. */
export async function busyPercent(ms = 1000): Promise<number> {
  const before = cpuTicks();
  await Bun.sleep(ms);
  const after = cpuTicks();
  return after.total === before.total ? 0 : Math.round((100 * (after.busy - before.busy)) / (after.total - before.total));
}

/**
 * Waits (at most `maxMs`) for a second in which the cores are less than
 * `thresholdPercent` busy, and returns the last second's figure: on a shared
 * machine other work comes in bursts, and a benchmark started in one skews.
 */
export async function awaitQuiet(maxMs = 60_000, thresholdPercent = 15): Promise<number> {
  const deadline = performance.now() + maxMs;
  let busy = await busyPercent();
  while (busy >= thresholdPercent && performance.now() < deadline) busy = await busyPercent();
  return busy;
}
