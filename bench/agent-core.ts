// opskit agent's core alone: how many events a second it takes from a source
// (queue, windows, rules) on this machine, with rules over windows only and
// with CEL rules evaluated on every event. The source is in-process and
// honours backpressure; nothing matches, so delivery stays idle.
// Run: bun bench/agent-core.ts (under flock /tmp/bench.lock on a shared machine).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentEvent, AgentSource, CompiledAgent, SourceContext } from "../src/agent/index.ts";
import { startAgent } from "../src/agent/index.ts";
import { compileAgentRules } from "../src/agent/rules.ts";

const EVENTS = 300_000;

async function measure(label: string, rules: { name: string; when: string }[], queue: number): Promise<void> {
  let context: SourceContext | undefined;
  const source: AgentSource<Record<string, never>> = { kind: "bench", schema: (kit) => kit.z.object({}) as never, start: async (_s, c) => ((context = c), { stop: async () => undefined }) };
  const compiled = await compileAgentRules(rules.map((r) => ({ labels: {}, annotations: {}, ...r })), () => "bench", ["bench"], 300_000);
  const stateDir = mkdtempSync(join(tmpdir(), "opskit-agent-bench-"));
  const agent: CompiledAgent = {
    settings: { stateDir, batchMax: 500, lingerMs: 0, queue, spoolMaxBytes: 1 << 26, windowsMs: 300_000, server: { url: "http://127.0.0.1:1", timeoutMs: 1000 } },
    sources: [{ name: "bench", kind: "bench", source, spec: {}, key: "comm" }],
    rules: compiled.rules,
    clock: compiled.clock,
    where: () => "bench",
  };
  const handle = await startAgent(agent, { version: "bench", notice: () => undefined });
  const comms = ["nginx", "sshd", "cron", "java", "bash", "python3", "postgres", "systemd"];
  const events = Array.from({ length: EVENTS }, (_, i): AgentEvent =>
    i % 2 === 0
      ? { source: "bench", kind: "exec", time: Date.now(), pid: 1000 + (i % 30000), comm: comms[i % comms.length]!, fields: { ppid: 1, filename: `/usr/bin/${comms[i % comms.length]}` } }
      : { source: "bench", kind: "log", time: Date.now(), message: `2026-01-01T00:00:00Z app[${i}]: request ${i} served in ${i % 97} ms`, fields: { file: "/var/log/app.log", level: i % 50 === 0 ? "warn" : "info" } },
  );
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let paused = 0;
  for (const event of events) {
    while (!context!.emit(event)) {
      paused++;
      await context!.drained();
    }
  }
  while (handle.core.queue.length > 0) await Bun.sleep(1);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(`${label}: ${EVENTS} events in ${seconds.toFixed(2)} s = ${Math.round(EVENTS / seconds).toLocaleString("en")} events/s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, source paused ${paused} times, RSS ${(process.memoryUsage.rss() / 1e6).toFixed(0)} MB`);
  await handle.stop();
  rmSync(stateDir, { recursive: true, force: true });
}

await measure("windows only (1 rule over windows)", [{ name: "burst", when: 'window("bench", "sshd", "1m") > 1000000' }], 10_000);
await measure("4 CEL rules on every event", [
  { name: "oom", when: 'event.kind == "oom"' },
  { name: "sshd-exec", when: 'event.kind == "exec" && event.comm == "sshd" && event.pid == 1' },
  { name: "tmp-exec", when: 'event.kind == "exec" && has(event.fields.filename) && event.fields.filename.startsWith("/tmp/")' },
  { name: "oom-log", when: 'log.message.contains("Out of memory")' },
], 10_000);
await measure("4 CEL rules, queue of 64", [
  { name: "oom", when: 'event.kind == "oom"' },
  { name: "sshd-exec", when: 'event.kind == "exec" && event.comm == "sshd" && event.pid == 1' },
  { name: "tmp-exec", when: 'event.kind == "exec" && has(event.fields.filename) && event.fields.filename.startsWith("/tmp/")' },
  { name: "oom-log", when: 'log.message.contains("Out of memory")' },
], 64);
