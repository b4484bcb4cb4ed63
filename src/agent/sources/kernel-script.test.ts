import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { eventOfTuple, KERNEL_EVENTS, parseBpftraceLine, planKernelScript, STRING_BYTES, textOf, type KernelFacts } from "./kernel-script.ts";

/** A string escaped the way bpftrace 0.17's JSON writer does it (checked against the real one in test/agent-kernel.test.ts). */
function bpftraceEscape(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += "\\\\";
    else if (byte === 0x0a) out += "\\n";
    else if (byte < 0x20) out += `\\u${byte.toString(16).padStart(4, "0")}`;
    else if (byte >= 0x80) out += `\\uffffff${byte.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

const facts = (names: Record<string, string[]>, btf = true): KernelFacts => ({ tracepoints: new Map(Object.entries(names).map(([name, fields]) => [name, new Set(fields)])), btf });
const modern = facts({
  "sched:sched_process_exec": ["filename", "pid", "old_pid"],
  "sched:sched_process_exit": ["comm", "pid", "prio", "group_dead"],
  "syscalls:sys_enter_openat": ["filename", "flags"],
  "syscalls:sys_exit_openat": ["ret"],
  "oom:mark_victim": ["pid", "comm", "total_vm", "anon_rss", "file_rss", "shmem_rss", "uid", "pgtables", "oom_score_adj"],
  "tcp:tcp_retransmit_skb": ["sport", "dport", "family", "saddr", "daddr", "saddr_v6", "daddr_v6", "state"],
  "tcp:tcp_send_reset": ["state", "reason", "saddr", "daddr"],
  "tcp:tcp_receive_reset": ["sport", "dport", "family", "saddr", "daddr", "saddr_v6", "daddr_v6"],
});

describe("kernel source: reading bpftrace's JSON", () => {
  test("any bytes in a comm or file name come back exactly (as text, or U+FFFD with the bytes in hex)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((bytes) => !bytes.includes(0)), (bytes) => {
        const line = `{"type": "value", "data": ["exec",1000000,42,7,0,"${bpftraceEscape(bytes.slice(0, 15))}","${bpftraceEscape(bytes)}"]}`;
        const parsed = parseBpftraceLine(line) as { data: unknown[] };
        const layouts = new Map([["exec", ["pid", "ppid", "uid", "comm", "filename"]]]);
        const event = eventOfTuple(parsed.data, layouts)!;
        const exact = (text: string, hex: unknown) => (typeof hex === "string" ? Buffer.from(hex, "hex") : Buffer.from(text, "utf8"));
        expect([...exact(String(event.fields.filename), event.fields.filename_hex)]).toEqual([...bytes]);
        expect([...exact(event.comm!, event.fields.comm_hex)]).toEqual([...bytes.slice(0, 15)]);
        expect(event.pid).toBe(42);
      }),
      { numRuns: 500 },
    );
  });

  test("an escaped backslash before uffffff is text, not a byte", () => {
    const parsed = parseBpftraceLine(String.raw`{"data": ["a\\uffffff41\uffffffc3\uffffffa9"]}`) as { data: string[] };
    expect(textOf(parsed.data[0]!)).toEqual({ text: "a\\uffffff41é" });
  });

  test("exit codes and signals are split from do_exit's code", () => {
    const layouts = new Map([["exit", ["pid", "ppid", "comm", "code"]]]);
    expect(eventOfTuple(["exit", 1, 10, 1, "sh", 3 << 8], layouts)!.fields).toEqual({ ppid: 1, exit_code: 3 });
    expect(eventOfTuple(["exit", 1, 10, 1, "sh", 9], layouts)!.fields).toEqual({ ppid: 1, signal: 9 });
    expect(eventOfTuple(["exit", 1, 10, 1, "sh", 0x80 | 11], layouts)!.fields).toEqual({ ppid: 1, signal: 11, core_dumped: true });
  });

  test("opens give fd on success and errno on failure; a name filling bpftrace's buffer is marked truncated", () => {
    const layouts = new Map([["open", ["pid", "tid", "uid", "ret", "comm", "filename"]]]);
    expect(eventOfTuple(["open", 1, 5, 5, 0, 3, "cat", "/etc/hosts"], layouts)!.fields).toMatchObject({ fd: 3, ret: 3, filename: "/etc/hosts" });
    expect(eventOfTuple(["open", 1, 5, 5, 0, -2, "cat", "/nope"], layouts)!.fields).toMatchObject({ errno: 2 });
    const long = "/" + "x".repeat(STRING_BYTES - 2);
    expect(eventOfTuple(["open", 1, 5, 5, 0, -2, "cat", long], layouts)!.fields.filename_truncated).toBe(true);
  });

  test("a reset laid out as sockaddrs (kernels since 6.10) gives addresses and ports", () => {
    const plan = planKernelScript(["tcp_reset"], [], modern);
    const sent = plan.layouts.get("tcp_reset_sent_sa")!;
    const v6 = (port: number, last: number) => [10, 0, port >> 8, port & 0xff, 0, 0, 0, 0, ...Array(15).fill(0), last];
    const v4 = (port: number) => [2, 0, port >> 8, port & 0xff, 127, 0, 0, 1, ...Array(16).fill(0)];
    const tuple = (s: number[], d: number[]) => ["tcp_reset_sent_sa", 1, 0, ...s, ...d];
    expect(sent.length).toBe(49);
    expect(eventOfTuple(tuple(v4(1), v4(55000)), plan.layouts)!.fields).toEqual({ family: "inet", saddr: "127.0.0.1", sport: 1, daddr: "127.0.0.1", dport: 55000, state: "0", direction: "sent" });
    expect(eventOfTuple(tuple(v6(443, 1), v6(40000, 1)), plan.layouts)!.fields).toMatchObject({ family: "inet6", saddr: "::1", sport: 443, dport: 40000 });
  });
});

describe("kernel source: the generated program", () => {
  test("only fixed probes: every configured event on a modern kernel, counting maps printed each second", () => {
    const plan = planKernelScript([...KERNEL_EVENTS], ["open"], modern);
    expect(plan.unavailable).toEqual([]);
    expect(plan.script).toContain("tracepoint:oom:mark_victim");
    expect(plan.script).toContain("@open_n[comm] = count();");
    expect(plan.script).toContain("print(@open_n);");
    expect(plan.script).not.toContain("sys_exit_openat");
    expect(plan.script).toContain('BEGIN { print(("ready", nsecs)); }');
  });

  test("a kernel without a tracepoint or BTF: the event is said unavailable, ppid and exit codes are left out", () => {
    const old = facts({ "sched:sched_process_exec": ["filename", "pid"], "sched:sched_process_exit": ["comm", "pid", "prio"], "oom:mark_victim": ["pid"] }, false);
    const plan = planKernelScript(["exec", "exit", "oom", "tcp_retransmit"], [], old);
    expect(plan.unavailable.map((u) => u.event)).toEqual(["tcp_retransmit"]);
    expect(plan.script).not.toContain("curtask");
    expect(plan.script).toContain("/pid == tid/");
    expect(plan.oomHasComm).toBe(false);
    expect(plan.layouts.get("oom")).toEqual(["pid"]);
  });
});
