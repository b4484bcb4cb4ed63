// The agent's kernel source against the real kernel: bpftrace as root,
// processes, files, an OOM kill in a memory-limited cgroup and TCP resets
// made by the test, seen with their pids and comms. Skipped only where the
// kernel refuses BPF, with the reason; in CI a missing bpftrace fails.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { agentSources } from "../src/agent/sources/index.ts";
import type { AgentEvent, SourceContext } from "../src/agent/types.ts";
import { createSchemaKit } from "../src/schema/index.ts";
import { createMemoryCgroup, memoryController } from "./harness/cgroup.ts";
import { repoRoot } from "./harness/cli.ts";
import { collectOutput, startServe, writeConfig } from "./harness/serve.ts";

const kernel = agentSources.kernel!;
const specOf = (value: unknown) => kernel.schema(createSchemaKit(z)).parse(value) as any;
const bpftrace = Bun.which("bpftrace");
const root = process.geteuid?.() === 0;

/** Why the kernel tests cannot run here (undefined: they run). */
async function refusal(): Promise<string | undefined> {
  if (!bpftrace) return process.env.CI ? undefined : "bpftrace is not installed (sh scripts/setup.sh installs it)";
  if (!root) return "not root: bpftrace needs root";
  const probe = Bun.spawn([bpftrace, "-e", "BEGIN { exit(); }"], { stdout: "ignore", stderr: "pipe", timeout: 60_000 });
  const [code, stderr] = await Promise.all([probe.exited, new Response(probe.stderr).text()]);
  if (code !== 0) return `the kernel refuses BPF here: ${stderr.split("\n").filter((l) => l && !/RLIMIT_MEMLOCK/.test(l))[0] ?? `exit ${code}`}`;
  return undefined;
}
const skipReason = await refusal();
if (skipReason) console.warn(`agent-kernel: eBPF tests skipped: ${skipReason}`);
const kernelTest = skipReason ? test.skip : test;

/** A SourceContext that keeps what the source emits, and can play a full queue. */
function collector(name = "kernel") {
  const events: AgentEvent[] = [];
  const warnings: string[] = [];
  const counters = new Map<string, number>();
  const abort = new AbortController();
  let full = false;
  let waiting: (() => void)[] = [];
  const context: SourceContext = {
    name,
    stateDir: mkdtempSync(join(tmpdir(), "opskit-kernel-state-")),
    signal: abort.signal,
    emit(event) {
      if (full) return false;
      events.push(event);
      return true;
    },
    drained: () => (full ? new Promise<void>((resolve) => waiting.push(resolve)) : Promise.resolve()),
    warn: (message) => void warnings.push(message),
    counters: { inc: (counter, n = 1) => void counters.set(counter, (counters.get(counter) ?? 0) + n) },
  };
  return {
    context,
    events,
    warnings,
    counters,
    pause: () => void (full = true),
    resume() {
      full = false;
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

const dir = mkdtempSync(join(tmpdir(), "opskit-agent-kernel-"));
chmodSync(dir, 0o755);
const unique = (prefix: string) => `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 15 - prefix.length)}`;
/** A uniquely named link to /bin/sh: exec sets comm from the name it was run by. */
function namedShell(name: string): string {
  const path = join(dir, name);
  symlinkSync("/bin/sh", path);
  return path;
}
const ownComm = readFileSync("/proc/self/comm", "utf8").trim();

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("bpftrace is installed where the tests run in CI", () => {
  if (process.env.CI) expect(bpftrace, "bpftrace missing in CI: sh scripts/setup.sh installs it").toBeTruthy();
});

test("without bpftrace the source says so once, with the fix, and stops cleanly", async () => {
  const c = collector();
  const running = await kernel.start(specOf({ bpftrace: join(dir, "no-such-bpftrace") }), c.context);
  await running.stop();
  expect(c.warnings).toHaveLength(1);
  expect(c.warnings[0]).toContain("eBPF unavailable: bpftrace is not installed");
  expect(c.warnings[0]).toContain("Fix: apt-get install bpftrace");
  expect(c.events).toEqual([]);
});

describe("kernel events as root", () => {
  const c = collector();
  let running: { stop(): Promise<void> } | undefined;
  beforeAll(async () => {
    if (skipReason) return;
    running = await kernel.start(specOf({ events: ["exec", "exit", "open", "oom", "tcp_reset", "tcp_retransmit"] }), c.context);
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
  }, 30_000);
  const of = (pid: number | undefined, kind: string) => c.events.find((event) => event.pid === pid && event.kind === kind);

  kernelTest("attaches without a warning on this kernel", () => {
    expect(c.warnings).toEqual([]);
    expect(c.counters.get("probes_attached")).toBeGreaterThan(5);
  });

  kernelTest("a process the test starts is seen at exec and exit with its pid, comm, parent and exit code", async () => {
    const name = unique("okx");
    const started = Date.now();
    const child = Bun.spawn([namedShell(name), "-c", "exit 7"], { stdio: ["ignore", "ignore", "ignore"] });
    expect(await child.exited).toBe(7);
    const exec = await waitFor("the exec event", () => of(child.pid, "exec"));
    const exit = await waitFor("the exit event", () => of(child.pid, "exit"));
    expect(exec).toMatchObject({ source: "kernel", comm: name, fields: { ppid: process.pid, filename: join(dir, name), uid: 0 } });
    expect(exit).toMatchObject({ comm: name, fields: { exit_code: 7, ppid: process.pid } });
    // Kernel time converted to epoch ms: between the spawn and now.
    expect(exec.time).toBeGreaterThanOrEqual(started - 1000);
    expect(exec.time).toBeLessThanOrEqual(Date.now() + 1000);
    expect(exit.time).toBeGreaterThanOrEqual(exec.time);
  });

  kernelTest("a file the test opens is seen with its pid, comm, name and fd; a failed open with its errno", async () => {
    const path = join(dir, unique("file-"));
    const fd = openSync(path, "w");
    closeSync(fd);
    const missing = join(dir, unique("none-"));
    expect(() => openSync(missing, "r")).toThrow();
    const opened = await waitFor("the open event", () => c.events.find((event) => event.kind === "open" && event.fields.filename === path));
    expect(opened).toMatchObject({ pid: process.pid, comm: ownComm, fields: { fd, ret: fd } });
    const failed = await waitFor("the failed open", () => c.events.find((event) => event.kind === "open" && event.fields.filename === missing));
    expect(failed.fields).toMatchObject({ errno: 2, ret: -2 });
  });

  kernelTest("hostile process names (quotes, backslashes, newline, control and invalid UTF-8 bytes) come back byte for byte", async () => {
    const names = [Buffer.from('q"\\u0041\x1f\nb', "latin1"), Buffer.from([0x78, 0xff, 0xfe, 0xc3, 0x28, 0x5c, 0x22]), Buffer.from("héllo→", "utf8")];
    for (const bytes of names) {
      // Run by its own name from a directory holding only it: the glob hands sh the bytes.
      const home = mkdtempSync(join(dir, "hostile-"));
      symlinkSync("/bin/sh", Buffer.concat([Buffer.from(home + "/"), bytes]));
      const child = Bun.spawn(["/bin/sh", "-c", 'exec ./* -c "exit 0"'], { cwd: home, stdio: ["ignore", "ignore", "ignore"] });
      expect(await child.exited).toBe(0);
      // The same pid execs twice: sh, then the hostile name.
      const exec = await waitFor("the hostile exec", () => c.events.find((event) => event.pid === child.pid && event.kind === "exec" && String(event.fields.filename).startsWith("./")));
      const exact = (text: string | undefined, hex: unknown) => (typeof hex === "string" ? Buffer.from(hex, "hex") : Buffer.from(text ?? "", "utf8"));
      expect(exact(exec.comm, exec.fields.comm_hex).equals(bytes.subarray(0, 15))).toBe(true);
      expect(exact(String(exec.fields.filename), exec.fields.filename_hex).equals(Buffer.concat([Buffer.from("./"), bytes]))).toBe(true);
    }
  });

  kernelTest("an OOM kill in a memory-limited cgroup is seen with the victim's pid and comm", async () => {
    const controller = memoryController();
    expect("missing" in controller ? controller.missing : "").toBe("");
    const name = unique("okoom");
    const cgroup = createMemoryCgroup(unique("opskit-oom-"), 32 * 1024 * 1024);
    try {
      // Waits for a line (once it is in the cgroup), then doubles a string until the kernel kills it.
      const child = Bun.spawn([namedShell(name), "-c", 'read go; a=x; while :; do a="$a$a"; done'], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
      cgroup.add(child.pid);
      child.stdin.write("go\n");
      await child.stdin.end();
      const code = await Promise.race([child.exited, Bun.sleep(60_000).then(() => "still running")]);
      if (code === "still running") child.kill("SIGKILL");
      expect(child.signalCode).toBe("SIGKILL");
      const oom = await waitFor("the oom event", () => of(child.pid, "oom"));
      expect(oom.comm).toBe(name);
      expect(Number(oom.fields.anon_rss_kb)).toBeGreaterThan(1024);
      const exit = await waitFor("the victim's exit", () => of(child.pid, "exit"));
      expect(exit.fields.signal).toBe(9);
    } finally {
      await cgroup.remove();
    }
  }, 90_000);

  kernelTest("a connection refused on loopback is seen as a reset sent and one received, with ports", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const localPort = await new Promise<number>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      let local = 0;
      socket.on("connect", () => (local = socket.localPort ?? 0));
      socket.on("lookup", () => undefined);
      socket.on("error", () => resolve(local));
      setTimeout(() => resolve(local), 5000);
    });
    const sent = await waitFor("the reset sent", () => c.events.find((event) => event.kind === "tcp_reset" && event.fields.direction === "sent" && event.fields.sport === port));
    expect(sent.fields).toMatchObject({ family: "inet", saddr: "127.0.0.1", daddr: "127.0.0.1" });
    const received = await waitFor("the reset received", () => c.events.find((event) => event.kind === "tcp_reset" && event.fields.direction === "received" && event.fields.dport === port));
    expect(received.fields.sport).toBe(sent.fields.dport);
    if (localPort) expect(sent.fields.dport).toBe(localPort);
  });
});

describe("kernel events: counts and backpressure", () => {
  kernelTest("opens counted in the kernel per comm per second", async () => {
    const c = collector();
    const running = await kernel.start(specOf({ events: ["open"], count: ["open"] }), c.context);
    try {
      const name = unique("okcnt");
      const child = Bun.spawn([namedShell(name), "-c", "i=0; while [ $i -lt 300 ]; do : < /etc/hostname; i=$((i+1)); done"], { stdio: ["ignore", "ignore", "ignore"] });
      expect(await child.exited).toBe(0);
      const total = () => c.events.filter((event) => event.comm === name).reduce((sum, event) => sum + Number(event.fields.count), 0);
      await waitFor("300 opens counted", () => (total() >= 300 ? true : undefined));
      const counted = c.events.filter((event) => event.comm === name);
      expect(counted.every((event) => event.kind === "open" && event.fields.window === "1s" && event.pid === undefined)).toBe(true);
      // The loop's 300 and the loader's few: no open counted twice.
      expect(total()).toBeLessThan(320);
    } finally {
      await running.stop();
    }
  }, 60_000);

  kernelTest("a full queue pauses reading; what the kernel held arrives once the queue drains", async () => {
    const c = collector();
    const running = await kernel.start(specOf({ events: ["exec", "exit"] }), c.context);
    try {
      c.pause();
      const name = unique("okbp");
      const shell = namedShell(name);
      const pids: number[] = [];
      for (let i = 0; i < 30; i++) {
        const child = Bun.spawn([shell, "-c", "exit 0"], { stdio: ["ignore", "ignore", "ignore"] });
        await child.exited;
        pids.push(child.pid);
      }
      await Bun.sleep(500);
      expect(c.events.filter((event) => event.comm === name)).toEqual([]);
      expect(c.counters.get("backpressure_waits") ?? 0).toBeGreaterThan(0);
      c.resume();
      await waitFor("every exec and exit", () => (pids.every((pid) => c.events.some((e) => e.pid === pid && e.kind === "exec") && c.events.some((e) => e.pid === pid && e.kind === "exit")) ? true : undefined));
      expect(c.counters.get("lost_events") ?? 0).toBe(0);
    } finally {
      c.resume();
      await running.stop();
    }
  }, 60_000);

  kernelTest("what the kernel cannot hold while the queue stays full is counted as lost and said, never silent", async () => {
    const c = collector();
    const running = await kernel.start(specOf({ events: ["open"], bufferPages: 8 }), c.context);
    try {
      c.pause();
      const child = Bun.spawn([namedShell(unique("oklost")), "-c", "i=0; while [ $i -lt 20000 ]; do : < /etc/hostname; i=$((i+1)); done"], { stdio: ["ignore", "ignore", "ignore"] });
      expect(await child.exited).toBe(0);
      c.resume();
      await waitFor("lost events counted", () => ((c.counters.get("lost_events") ?? 0) > 0 ? true : undefined));
      expect(c.warnings.filter((warning) => warning.startsWith("kernel events lost"))).toHaveLength(1);
    } finally {
      c.resume();
      await running.stop();
    }
  }, 60_000);
});

describe("kernel events without root", () => {
  kernelTest("opskit agent run as nobody says the one clear message and runs its other sources", async () => {
    const home = mkdtempSync(join(dir, "nobody-"));
    mkdirSync(join(home, "logs"));
    writeFileSync(join(home, "logs", "app.log"), "kernel: Out of memory: Killed process 42 (java)\n");
    writeFileSync(
      join(home, "opskit.yaml"),
      `agent:
  stateDir: ${join(home, "state")}
  sources:
    - name: kernel
      kernel: { events: [exec, oom] }
    - name: app
      files: { paths: ["${join(home, "logs")}/*.log"] }
  rules:
    - name: oom
      when: event.kind == "oom" || (event.kind == "log" && event.message.contains("Out of memory"))
      labels: { alertname: OOMKill }
`,
    );
    for (const path of [home, join(home, "logs"), join(home, "logs", "app.log"), join(home, "opskit.yaml")]) chmodSync(path, 0o777);
    const child = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, join(repoRoot, "src/cli/main.ts"), "agent", "-c", ".", "--once"], {
      cwd: home,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, NO_COLOR: "1", BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0", TMPDIR: home },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    expect(code, err).toBe(0);
    expect(err.trim().split("\n")).toEqual(["opskit agent: source kernel: eBPF unavailable: not root (uid 65534): bpftrace loads BPF programs only as root; kernel events off. Fix: run opskit agent as root"]);
    // The files source ran on: its line raised the rule's alert.
    expect(out).toContain("1 alert would be sent (kernel: 0 events, app: 1 event)");
  }, 60_000);
});

describe("opskit agent with the kernel source, feeding opskit serve", () => {
  kernelTest("an OOM kill raises the rule's alert at the server, labelled with the victim's comm and pid", async () => {
    const server = await startServe(writeConfig("rules: []\n"));
    const agentDir = mkdtempSync(join(tmpdir(), "opskit-agent-kernel-e2e-"));
    let agent: ReturnType<typeof Bun.spawn> | undefined;
    const cgroup = createMemoryCgroup(unique("opskit-oom-"), 32 * 1024 * 1024);
    try {
      writeFileSync(
        join(agentDir, "opskit.yaml"),
        `agent:
  server: { url: ${server.url}, token: "file:${join(server.dir, "server.token")}", timeout: 2s }
  stateDir: ${join(agentDir, "state")}
  sources:
    - name: kernel
      kernel: { events: [exec, exit, oom] }
  rules:
    - name: oom
      when: event.kind == "oom"
      labels: { alertname: OOMKill, process: "{{ event.comm }}", pid: "{{ event.pid }}" }
      resolveAfter: 1m
`,
      );
      agent = Bun.spawn([process.execPath, join(repoRoot, "src/cli/main.ts"), "agent", "-c", ".", "--listen", "127.0.0.1:0"], { cwd: agentDir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
      const output = collectOutput(agent as any);
      const metricsUrl = await waitFor("the agent's metrics", () => /metrics on (http:\/\/[\d.:]+)\/metrics/.exec(output.text())?.[1] ?? (agent!.exitCode !== null ? "exited" : undefined), 60_000);
      expect(metricsUrl, output.text()).not.toBe("exited");
      // Ready once the kernel source's probes are attached.
      let metrics = "";
      await waitFor("the kernel probes attached", () => (/opskit_agent_probes_attached_total\{source="kernel"\} [1-9]/.test(metrics) ? true : void fetch(`${metricsUrl}/metrics`).then((r) => r.text()).then((t) => (metrics = t)).catch(() => undefined)), 60_000);
      expect(output.text()).not.toContain("eBPF unavailable");

      const name = unique("okoom");
      const victim = Bun.spawn([namedShell(name), "-c", 'read go; a=x; while :; do a="$a$a"; done'], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
      cgroup.add(victim.pid);
      victim.stdin.write("go\n");
      await victim.stdin.end();
      const code = await Promise.race([victim.exited, Bun.sleep(60_000).then(() => "still running")]);
      if (code === "still running") victim.kill("SIGKILL");
      expect(victim.signalCode).toBe("SIGKILL");
      const incidents = await server.waitFor("/api/v1/incidents?status=all", (body) => body.incidents.filter((i: any) => i.labels.process === name).length > 0 && body.incidents, 30_000);
      const incident = incidents.find((i: any) => i.labels.process === name);
      expect(incident.labels).toMatchObject({ alertname: "OOMKill", process: name, pid: String(victim.pid) });
      expect(incident.status).toBe("open");
    } finally {
      agent?.kill("SIGTERM");
      await agent?.exited;
      await cgroup.remove();
      if (server.child.exitCode === null) await server.kill();
      rmSync(agentDir, { recursive: true, force: true });
    }
  }, 120_000);
});
