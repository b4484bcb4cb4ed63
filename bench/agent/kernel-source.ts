// The agent's kernel source under a steady stream of short processes
// (spawn-load.ts): exec events seen against processes started (loss), the
// CPU of the source's process and of bpftrace (from /proc/PID/stat), their
// RSS, and the latency from exec (kernel time) to emit, p50/p99; also from
// the generator's start call to emit. The source runs in its own process
// (this file with --host), the generator in this one.
// Run as root: flock /tmp/bench.lock node_modules/.bin/bun bench/agent/kernel-source.ts [seconds]
import { readFileSync, readdirSync } from "node:fs";
import { z } from "zod";
import { agentSources } from "../../src/agent/sources/index.ts";
import type { AgentEvent, SourceContext } from "../../src/agent/types.ts";
import { createSchemaKit } from "../../src/schema/index.ts";
import { namedTrue, spawnLoadFrom } from "./spawn-load.ts";

const nowMs = () => performance.timeOrigin + performance.now();

/** The source in this process: counts what it emits for one comm and answers "report" on stdin. */
async function host(specJson: string, comm: string): Promise<void> {
  const spec = agentSources.kernel!.schema(createSchemaKit(z)).parse(JSON.parse(specJson)) as any;
  const counters = new Map<string, number>();
  const execLatency: number[] = [];
  const emitted: [number, number][] = [];
  let exits = 0;
  let counted = 0;
  let all = 0;
  const context: SourceContext = {
    name: "kernel",
    stateDir: "/tmp",
    signal: new AbortController().signal,
    emit(event: AgentEvent) {
      all++;
      if (event.comm !== comm) return true;
      if (event.fields.count !== undefined) counted += Number(event.fields.count);
      else if (event.kind === "exec") {
        const at = nowMs();
        execLatency.push(at - event.time);
        emitted.push([event.pid!, at]);
      } else if (event.kind === "exit") exits++;
      return true;
    },
    drained: async () => undefined,
    warn: (message) => console.error(`warn: ${message}`),
    counters: { inc: (name, n = 1) => void counters.set(name, (counters.get(name) ?? 0) + n) },
  };
  const running = await agentSources.kernel!.start(spec, context);
  const bpftrace = readdirSync(`/proc/${process.pid}/task`).flatMap((task) => readFileSync(`/proc/${process.pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
  console.log(JSON.stringify({ ready: true, bpftrace: bpftrace[0] }));
  for await (const line of console) {
    if (line === "report") {
      const sorted = execLatency.slice().sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
      console.log(JSON.stringify({ emitted, exits, counted, all, p50: at(0.5), p99: at(0.99), max: sorted.at(-1), lost: counters.get("lost_events") ?? 0 }));
    } else if (line === "stop") break;
  }
  await running.stop();
  process.exit(0);
}

/** utime + stime in seconds, and VmHWM / VmRSS in MB, of a process. */
function usage(pid: number): { cpuSec: number; hwmMb: number; rssMb: number; anonMb: number; fileMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { cpuSec: (Number(fields[11]) + Number(fields[12])) / 100, hwmMb: kb("VmHWM"), rssMb: kb("VmRSS"), anonMb: kb("RssAnon"), fileMb: kb("RssFile") };
}

async function scenario(label: string, spec: object, rate: number, seconds: number, workers = 1): Promise<void> {
  const program = namedTrue("okbench");
  const child = Bun.spawn([process.execPath, import.meta.path, "--host", JSON.stringify(spec), program.comm], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let buffer = "";
  const nextLine = async (): Promise<any> => {
    for (;;) {
      const newline = buffer.indexOf("\n");
      if (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        return JSON.parse(line);
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("host exited");
      buffer += new TextDecoder().decode(value);
    }
  };
  try {
    const ready = await nextLine();
    const before = { host: usage(child.pid), bpftrace: usage(ready.bpftrace) };
    const t0 = performance.now();
    const load = await spawnLoadFrom(workers, { rate, seconds }, program);
    await Bun.sleep(1500);
    const wallSec = (performance.now() - t0) / 1000;
    const after = { host: usage(child.pid), bpftrace: usage(ready.bpftrace) };
    child.stdin.write("report\n");
    await child.stdin.flush();
    const report = await nextLine();
    // The k-th start of a pid matches its k-th exec emitted (pids wrap at pid_max).
    const emittedByPid = new Map<number, number[]>();
    for (const [pid, at] of report.emitted as [number, number][]) emittedByPid.set(pid, [...(emittedByPid.get(pid) ?? []), at]);
    const spawnToEmit: number[] = [];
    for (const [pid, at] of load.started) {
      const emit = emittedByPid.get(pid)?.shift();
      if (emit !== undefined) spawnToEmit.push(emit - at);
    }
    spawnToEmit.sort((a, b) => a - b);
    const seen = spawnToEmit.length;
    const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
    const cpu = (who: "host" | "bpftrace") => ((after[who].cpuSec - before[who].cpuSec) / wallSec) * 100;
    const seenText = spec.hasOwnProperty("count") && (spec as any).count.length ? `counted ${report.counted}` : `seen ${seen}, exits ${report.exits}`;
    console.log(
      [
        `${label}: asked ${rate}/s × ${seconds}s, started ${load.started.length} (${load.achievedRate.toFixed(0)}/s)`,
        `${seenText}, lost ${load.started.length - (report.counted || seen)} (${(((load.started.length - (report.counted || seen)) / load.started.length) * 100).toFixed(2)}%), kernel lost_events ${report.lost}, all events emitted ${report.all}`,
        `CPU % of a core: source ${cpu("host").toFixed(1)}, bpftrace ${cpu("bpftrace").toFixed(1)}, sum ${(cpu("host") + cpu("bpftrace")).toFixed(1)} (window ${wallSec.toFixed(1)}s)`,
        `RSS MB: source ${after.host.rssMb.toFixed(1)} (peak ${after.host.hwmMb.toFixed(1)}; anon ${after.host.anonMb.toFixed(1)}, file ${after.host.fileMb.toFixed(1)}), bpftrace ${after.bpftrace.rssMb.toFixed(1)} (peak ${after.bpftrace.hwmMb.toFixed(1)}; anon ${after.bpftrace.anonMb.toFixed(1)}, file ${after.bpftrace.fileMb.toFixed(1)})`,
        Number.isFinite(report.p50) ? `exec→emit ms: p50 ${report.p50.toFixed(2)}, p99 ${report.p99.toFixed(2)}, max ${report.max.toFixed(2)}; start call→emit ms: p50 ${q(spawnToEmit, 0.5).toFixed(2)}, p99 ${q(spawnToEmit, 0.99).toFixed(2)}` : "",
      ]
        .filter(Boolean)
        .join("\n  "),
    );
  } finally {
    child.stdin.write("stop\n");
    await child.stdin.end();
    await child.exited;
    program.remove();
  }
}

if (process.argv[2] === "--host") await host(process.argv[3]!, process.argv[4]!);
else {
  const seconds = Number(process.argv[2] ?? 10);
  // One generator process reaches about 3,000 starts a second here, two about 4,700 (2 cores): 10,000 is asked, what was reached is printed.
  await scenario("exec+exit events, 1000/s", { events: ["exec", "exit"] }, 1000, seconds);
  await scenario("exec+exit events, 10000/s asked", { events: ["exec", "exit"] }, 10_000, seconds, 2);
  await scenario("exec counted per comm per second in the kernel, 10000/s asked", { events: ["exec"], count: ["exec"] }, 10_000, seconds, 2);
}
