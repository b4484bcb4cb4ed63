// Kernel events through eBPF: bpftrace runs a program generated from the
// configured event kinds (kernel-script.ts) and prints one JSON line per
// event; this source turns them into AgentEvents. Backpressure: when the
// queue is full the source stops reading, bpftrace blocks on its output, the
// kernel's perf buffers fill and the kernel counts what it drops, which
// bpftrace reports and the source exports as lost_events. Where BPF is not
// permitted the source says why once and stays off; the other sources run.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import type { SchemaKit } from "../../schema/index.ts";
import type { AgentEvent, AgentSource, SourceContext } from "../types.ts";
import { COUNTABLE_EVENTS, eventOfTuple, KERNEL_EVENTS, parseBpftraceLine, planKernelScript, STRING_BYTES, textOf, type KernelFacts, type KernelPlan } from "./kernel-script.ts";

const TRACEFS = "/sys/kernel/tracing";

const schema = ({ z }: SchemaKit) =>
  z
    .object({
      events: z.array(z.enum(KERNEL_EVENTS)).min(1).default([...KERNEL_EVENTS]).describe("kernel events to watch"),
      count: z
        .array(z.enum(COUNTABLE_EVENTS))
        .default([])
        .describe("events counted in the kernel per comm per second (one event a second per comm, with fields.count) instead of one event each"),
      comms: z.array(z.string().min(1).max(15)).optional().describe("only events of these process names (compared in user space)"),
      bpftrace: z.string().default("bpftrace").describe("the bpftrace executable"),
      bufferPages: z
        .number()
        .int()
        .refine((n) => n >= 8 && n <= 4096 && (n & (n - 1)) === 0, "a power of two from 8 to 4096")
        .default(256)
        .describe("perf buffer pages per CPU: what the kernel holds while the agent is paused"),
    })
    .strict()
    .refine((spec) => spec.count.every((event) => spec.events.includes(event)), { message: "count lists only events that events lists", path: ["count"] });

export type KernelSpec = z.output<ReturnType<typeof schema>>;

/** Why eBPF cannot run here, and what fixes it. */
interface Refusal {
  reason: string;
  fix: string;
}

/** The fields of each tracepoint the kernel has, read from tracefs (only for the tracepoints the program may use). */
function readKernelFacts(): KernelFacts {
  const wanted = ["sched:sched_process_exec", "sched:sched_process_exit", "syscalls:sys_enter_openat", "syscalls:sys_exit_openat", "oom:mark_victim", "tcp:tcp_retransmit_skb", "tcp:tcp_send_reset", "tcp:tcp_receive_reset"];
  const tracepoints = new Map<string, Set<string>>();
  for (const name of wanted) {
    const [system, event] = name.split(":") as [string, string];
    try {
      const format = readFileSync(join(TRACEFS, "events", system, event, "format"), "utf8");
      tracepoints.set(name, new Set([...format.matchAll(/field:[^;]*?(\w+)(\[\d*\])?;/g)].map((m) => m[1]!)));
    } catch {
      // Absent: the event is reported unavailable.
    }
  }
  return { tracepoints, btf: existsSync("/sys/kernel/btf/vmlinux") };
}

/** Mounts tracefs when it is missing and we may; a refusal says why not. */
async function ensureTracefs(): Promise<Refusal | undefined> {
  if (existsSync(join(TRACEFS, "events"))) return undefined;
  const mount = Bun.spawn(["mount", "-t", "tracefs", "nodev", TRACEFS], { stdin: "ignore", stdout: "ignore", stderr: "pipe", timeout: 10_000 });
  const [code, stderr] = await Promise.all([mount.exited, new Response(mount.stderr).text()]);
  if (code === 0 && existsSync(join(TRACEFS, "events"))) return undefined;
  return { reason: `tracefs is not mounted at ${TRACEFS} and mounting it failed (${stderr.trim() || `exit ${code}`})`, fix: `mount -t tracefs nodev ${TRACEFS} (or mount it in the container)` };
}

/** The checks that need no BPF: bpftrace present, root, kernel lockdown, tracefs. */
async function preflight(spec: KernelSpec): Promise<{ refusal: Refusal } | { bpftrace: string }> {
  const bpftrace = spec.bpftrace.includes("/") ? (existsSync(spec.bpftrace) ? spec.bpftrace : null) : Bun.which(spec.bpftrace);
  if (!bpftrace) return { refusal: { reason: `bpftrace is not installed (${spec.bpftrace} not found)`, fix: "apt-get install bpftrace" } };
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) return { refusal: { reason: `not root (uid ${uid}): bpftrace loads BPF programs only as root`, fix: "run opskit agent as root" } };
  try {
    const lockdown = readFileSync("/sys/kernel/security/lockdown", "utf8");
    if (lockdown.includes("[confidentiality]")) return { refusal: { reason: "the kernel is locked down (confidentiality): BPF may not read kernel memory", fix: "boot with lockdown=integrity or none" } };
  } catch {
    // No lockdown LSM.
  }
  const tracefs = await ensureTracefs();
  return tracefs ? { refusal: tracefs } : { bpftrace };
}

/** bpftrace's stderr, when it failed to start, as one reason and fix. */
function refusalOf(stderr: string, exitCode: number | null): Refusal {
  const errors = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("DEBUG") && !/RLIMIT_MEMLOCK/.test(line));
  const detail = errors.slice(0, 3).join("; ") || `bpftrace exited with ${exitCode}`;
  if (/only supports running as the root user/i.test(stderr)) return { reason: "not root: bpftrace loads BPF programs only as root", fix: "run opskit agent as root" };
  if (/Operation not permitted|EPERM|permission denied/i.test(stderr)) {
    const memlock = /RLIMIT_MEMLOCK/.test(stderr) ? " (the memlock limit could not be raised either: kernels before 5.11 charge BPF maps to it)" : "";
    return { reason: `the kernel refused to load BPF programs: ${detail}${memlock}`, fix: "run as root on the host (not in a container without CAP_BPF/CAP_SYS_ADMIN), raise the memlock limit (ulimit -l unlimited, LimitMEMLOCK=infinity), and check kernel lockdown and seccomp" };
  }
  if (/BTF|kernel headers|vmlinux/i.test(stderr)) return { reason: `bpftrace found no kernel type information: ${detail}`, fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (or install its headers)" };
  return { reason: `bpftrace failed to start: ${detail}`, fix: "run the same bpftrace version by hand (bpftrace -l 'tracepoint:sched:*') to see what this kernel lacks" };
}

const warnOff = (context: SourceContext, refusal: Refusal) => context.warn(`eBPF unavailable: ${refusal.reason}; kernel events off. Fix: ${refusal.fix}`);

/**
 * Kernel time (bpf_ktime_get_ns, CLOCK_MONOTONIC) to epoch ms. Every line
 * read is a sample: the wall time it was read at minus its kernel time is at
 * least the true offset (delivery only adds), so the least recent difference
 * is the best estimate; two half-minute buckets let a stepped wall clock
 * through.
 */
class KernelClock {
  #current = Infinity;
  #previous = Infinity;
  #rotatedAt = performance.now();

  sample(kernelNs: number, wallMs: number): void {
    const now = performance.now();
    if (now - this.#rotatedAt > 30_000) {
      this.#previous = this.#current;
      this.#current = Infinity;
      this.#rotatedAt = now;
    }
    const offset = wallMs - kernelNs / 1e6;
    if (offset < this.#current) this.#current = offset;
  }

  toEpochMs(kernelNs: number): number {
    const offset = Math.min(this.#current, this.#previous);
    return Math.round((kernelNs / 1e6 + (Number.isFinite(offset) ? offset : 0)) * 1000) / 1000;
  }
}

/** Per-comm cumulative counts printed each second, turned into per-second deltas. */
class CountDeltas {
  readonly #last = new Map<string, Map<string, number>>();

  deltas(map: string, counts: Record<string, unknown>): [string, number][] {
    const last = this.#last.get(map) ?? new Map<string, number>();
    this.#last.set(map, last);
    const out: [string, number][] = [];
    for (const [comm, value] of Object.entries(counts)) {
      const total = Number(value);
      const delta = total - (last.get(comm) ?? 0);
      last.set(comm, total);
      if (delta > 0) out.push([comm, delta]);
    }
    return out;
  }
}

interface Running {
  stop(): Promise<void>;
}

/** Starts bpftrace and reads it until stopped; resolves once its probes are attached, or with undefined when it could not start (said once). */
async function runBpftrace(spec: KernelSpec, context: SourceContext, bpftrace: string, plan: KernelPlan): Promise<Running | undefined> {
  const child = Bun.spawn([bpftrace, "-f", "json", "-e", plan.script], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    // Only what bpftrace needs: nothing of the agent's environment (tokens) reaches it.
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", BPFTRACE_STRLEN: String(STRING_BYTES), BPFTRACE_PERF_RB_PAGES: String(spec.bufferPages) },
  });
  let stderr = "";
  const stderrDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) if (stderr.length < 65536) stderr += decoder.decode(chunk, { stream: true });
  })().catch(() => undefined);

  const clock = new KernelClock();
  const counts = new CountDeltas();
  const comms = spec.comms ? new Set(spec.comms) : undefined;
  const stopping = new AbortController();
  const aborted = new Promise<void>((resolve) => stopping.signal.addEventListener("abort", () => resolve(), { once: true }));
  let attached: (ok: boolean) => void = () => undefined;
  const attachedOnce = new Promise<boolean>((resolve) => (attached = resolve));
  let warnedLoss = false;
  let probes = 0;
  // The wall time of the last clock tick: per-second counts carry it.
  let lastTickMs = Date.now();

  /** Emits, waiting for room as long as the queue is full: the source keeps the event, never drops it. */
  const deliver = async (event: AgentEvent): Promise<void> => {
    if (comms && (event.comm === undefined || !comms.has(event.comm))) return;
    while (!context.emit(event)) {
      context.counters.inc("backpressure_waits");
      await Promise.race([context.drained(), aborted]);
      if (stopping.signal.aborted) return;
    }
  };

  const handle = async (line: string, readAtMs: number): Promise<void> => {
    let message: { type?: string; data?: any };
    try {
      message = parseBpftraceLine(line) as typeof message;
    } catch {
      context.counters.inc("parse_errors");
      return;
    }
    switch (message.type) {
      case "attached_probes":
        // Said before bpftrace attaches them: counted once BEGIN's tuple says they are.
        probes = Number(message.data?.probes ?? 0);
        return;
      case "lost_events": {
        const lost = Number(message.data?.events ?? 0);
        context.counters.inc("lost_events", lost);
        if (!warnedLoss) {
          warnedLoss = true;
          context.warn(`kernel events lost: ${lost} dropped by the kernel while the agent was behind (counted in opskit_agent_lost_events_total); raise bufferPages or the queue`);
        }
        return;
      }
      case "value": {
        const tuple = message.data;
        if (!Array.isArray(tuple) || typeof tuple[1] !== "number") return;
        clock.sample(tuple[1], readAtMs);
        if (tuple[0] === "ready") {
          context.counters.inc("probes_attached", probes);
          attached(true);
        }
        if (tuple[0] === "tick" || tuple[0] === "ready") {
          lastTickMs = clock.toEpochMs(tuple[1]);
          return;
        }
        const event = eventOfTuple(tuple, plan.layouts);
        if (!event) return;
        if (event.kind === "oom" && event.comm === undefined && event.pid !== undefined) {
          // Kernels before 5.x give the victim's pid only: its name while it is still there.
          try {
            event.comm = readFileSync(`/proc/${event.pid}/comm`, "utf8").replace(/\n$/, "");
            event.fields.comm_from = "proc";
          } catch {
            // Already gone.
          }
        }
        await deliver({ ...event, source: context.name, time: clock.toEpochMs(tuple[1]) });
        return;
      }
      case "map": {
        // Per-comm counts, printed right after a tick: they carry the tick's time.
        for (const [map, entries] of Object.entries((message.data ?? {}) as Record<string, Record<string, unknown>>)) {
          const kind = /^@(\w+)_n$/.exec(map)?.[1];
          if (!kind || typeof entries !== "object" || entries === null) continue;
          for (const [raw, count] of counts.deltas(map, entries)) {
            const { text, hex } = textOf(raw);
            const fields: AgentEvent["fields"] = { count, window: "1s" };
            if (hex !== undefined) fields.comm_hex = hex;
            await deliver({ source: context.name, kind, time: lastTickMs, comm: text, fields });
          }
        }
        return;
      }
    }
  };

  const reading = (async () => {
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for (;;) {
        // Not reading is the backpressure: deliver() awaits room before the next read.
        const { value, done } = await reader.read();
        if (done) break;
        // Stopping: read on (discarding) so that bpftrace, printing its maps at exit, never blocks on a full pipe.
        if (stopping.signal.aborted) continue;
        const readAtMs = performance.timeOrigin + performance.now();
        pending += decoder.decode(value, { stream: true });
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) {
          if (!line) continue;
          await handle(line, readAtMs);
          if (stopping.signal.aborted) break;
        }
      }
    } finally {
      reader.releaseLock();
    }
  })().catch(() => undefined);

  const exited = child.exited.then(async (code) => {
    await stderrDone;
    attached(false);
    return code;
  });
  const ok = await Promise.race([attachedOnce, Bun.sleep(120_000).then(() => false)]);
  if (!ok) {
    child.kill("SIGKILL");
    const code = await exited;
    warnOff(context, refusalOf(stderr, code));
    return undefined;
  }

  let stopped = false;
  // A bpftrace that dies under us is said once; the agent's other sources go on.
  void exited.then((code) => {
    if (!stopped) context.warn(`kernel events stopped: bpftrace exited with ${code}: ${refusalOf(stderr, code).reason}`);
  });
  return {
    async stop() {
      stopped = true;
      stopping.abort();
      // SIGINT lets bpftrace detach its probes; SIGKILL if it does not go.
      child.kill("SIGINT");
      const gone = await Promise.race([exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      if (!gone) child.kill("SIGKILL");
      await exited;
      await reading;
    },
  };
}

/** Plans the program for this kernel and says once which configured events it cannot give. */
function plan(spec: KernelSpec, context: SourceContext): KernelPlan {
  const planned = planKernelScript(spec.events, spec.count, readKernelFacts());
  if (planned.unavailable.length > 0) context.warn(`kernel events unavailable on this kernel: ${planned.unavailable.map((u) => `${u.event} (${u.reason})`).join(", ")}`);
  return planned;
}

async function startKernel(spec: KernelSpec, context: SourceContext): Promise<Running> {
  const checked = await preflight(spec);
  if ("refusal" in checked) {
    warnOff(context, checked.refusal);
    return { stop: async () => undefined };
  }
  const running = await runBpftrace(spec, context, checked.bpftrace, plan(spec, context));
  return running ?? { stop: async () => undefined };
}

export const kernelSource: AgentSource<KernelSpec> = {
  kind: "kernel",
  schema,
  async start(spec, context) {
    const running = await startKernel(spec, context);
    const onAbort = () => void running.stop();
    context.signal.addEventListener("abort", onAbort, { once: true });
    return {
      async stop() {
        context.signal.removeEventListener("abort", onAbort);
        await running.stop();
      },
    };
  },
  // --once: a one-second sample once the probes are attached.
  async once(spec, context) {
    const running = await startKernel(spec, context);
    await Promise.race([Bun.sleep(1000), new Promise((resolve) => context.signal.addEventListener("abort", resolve, { once: true }))]);
    await running.stop();
  },
};
