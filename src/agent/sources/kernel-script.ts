// The kernel source's bpftrace program and the reading of what it prints.
// The program is generated from a fixed table of probes, chosen by the
// configured event kinds and by what this kernel's tracepoint formats hold:
// no configured or observed string is ever spliced into it. Each probe prints
// one tuple, which `bpftrace -f json` writes as a JSON array whose strings are
// escaped one by one, so a comm or a file name holding quotes, newlines or
// any byte cannot spill into the next field.
import type { AgentEvent } from "../types.ts";

export const KERNEL_EVENTS = ["exec", "exit", "open", "oom", "tcp_retransmit", "tcp_reset"] as const;
export type KernelEvent = (typeof KERNEL_EVENTS)[number];
/** The kinds the kernel can count per comm per second instead of printing each. */
export const COUNTABLE_EVENTS = ["exec", "open"] as const;
export type CountableEvent = (typeof COUNTABLE_EVENTS)[number];

/**
 * bpftrace copies strings into fixed buffers: 160 bytes keep the open probe
 * (comm and a file name in one tuple) inside the 512-byte BPF stack; a name
 * that fills the buffer is marked truncated.
 */
export const STRING_BYTES = 160;

/** What the running kernel offers: its tracepoints' fields and whether BTF describes its types. */
export interface KernelFacts {
  /** Tracepoint ("sched:sched_process_exec") → its field names; absent when the kernel has no such tracepoint. */
  tracepoints: Map<string, Set<string>>;
  btf: boolean;
}

interface Column {
  name: string;
  expr: string;
}
interface Probe {
  tag: string;
  attach: string;
  predicate?: string;
  /** Statements before the print (e.g. fetching a stashed pointer). */
  before?: string;
  columns: Column[];
  after?: string;
}

export interface KernelPlan {
  script: string;
  /** Tag → the names of the tuple's columns after the tag and the time. */
  layouts: Map<string, string[]>;
  /** Events the kernel cannot give, with the reason (a missing tracepoint). */
  unavailable: { event: KernelEvent; reason: string }[];
  /** Whether oom tuples carry comm (newer kernels) or it must be read from /proc. */
  oomHasComm: boolean;
}

const column = (name: string, expr: string): Column => ({ name, expr });
const has = (facts: KernelFacts, tracepoint: string, field?: string) => {
  const fields = facts.tracepoints.get(tracepoint);
  return fields !== undefined && (field === undefined || fields.has(field));
};

/** Columns of the tcp tracepoints that carry family, ports and both address kinds (retransmit, receive_reset, older send_reset). */
function tcpColumns(facts: KernelFacts, tracepoint: string): Column[] {
  return [
    column("family", "args->family"),
    column("sport", "args->sport"),
    column("dport", "args->dport"),
    column("saddr4", "ntop(args->saddr)"),
    column("daddr4", "ntop(args->daddr)"),
    column("saddr6", "ntop(args->saddr_v6)"),
    column("daddr6", "ntop(args->daddr_v6)"),
    ...(has(facts, tracepoint, "state") ? [column("state", "args->state")] : []),
  ];
}

/** tcp_send_reset since 6.10 stores sockaddr_in/sockaddr_in6 in 28-byte arrays: their first 24 bytes go out as numbers and are read back in user space. */
function sockaddrColumns(): Column[] {
  const bytes = (array: string) => Array.from({ length: 24 }, (_, index) => column(`${array}${index}`, `(uint8)args->${array}[${index}]`));
  return [column("state", "args->state"), ...bytes("saddr"), ...bytes("daddr")];
}

function probesFor(event: KernelEvent, counted: boolean, facts: KernelFacts): Probe[] | string {
  const ppid = facts.btf ? [column("ppid", "curtask->real_parent->tgid")] : [];
  switch (event) {
    case "exec":
      if (!has(facts, "sched:sched_process_exec")) return "no tracepoint sched:sched_process_exec";
      if (counted) return [{ tag: "", attach: "tracepoint:sched:sched_process_exec", columns: [], after: "@exec_n[comm] = count();" }];
      return [
        {
          tag: "exec",
          attach: "tracepoint:sched:sched_process_exec",
          columns: [column("pid", "args->pid"), ...ppid, column("uid", "uid"), column("comm", "comm"), column("filename", "str(args->filename)")],
        },
      ];
    case "exit": {
      if (!has(facts, "sched:sched_process_exit")) return "no tracepoint sched:sched_process_exit";
      // The process ends with its last thread (group_dead); kernels without the field: its main thread.
      const predicate = has(facts, "sched:sched_process_exit", "group_dead") ? "args->group_dead" : "pid == tid";
      const code = facts.btf ? [column("code", "curtask->exit_code")] : [];
      return [{ tag: "exit", attach: "tracepoint:sched:sched_process_exit", predicate, columns: [column("pid", "pid"), ...ppid, column("comm", "args->comm"), ...code] }];
    }
    case "open":
      if (!has(facts, "syscalls:sys_enter_openat") || !has(facts, "syscalls:sys_exit_openat")) return "no tracepoints syscalls:sys_enter_openat/sys_exit_openat";
      if (counted) return [{ tag: "", attach: "tracepoint:syscalls:sys_enter_openat", columns: [], after: "@open_n[comm] = count();" }];
      // The name's user pointer is kept at entry and read at exit, when the result is known.
      return [
        { tag: "", attach: "tracepoint:syscalls:sys_enter_openat", columns: [], after: "@openat[tid] = args->filename;" },
        {
          tag: "open",
          attach: "tracepoint:syscalls:sys_exit_openat",
          predicate: "@openat[tid]",
          before: "$name = @openat[tid]; delete(@openat[tid]);",
          columns: [column("pid", "pid"), column("tid", "tid"), column("uid", "uid"), column("ret", "args->ret"), column("comm", "comm"), column("filename", "str($name)")],
        },
      ];
    case "oom": {
      if (!has(facts, "oom:mark_victim")) return "no tracepoint oom:mark_victim";
      const optional = [
        ["comm", "str(args->comm)"],
        ["total_vm_kb", "args->total_vm"],
        ["anon_rss_kb", "args->anon_rss"],
        ["file_rss_kb", "args->file_rss"],
        ["shmem_rss_kb", "args->shmem_rss"],
        ["uid", "args->uid"],
        ["oom_score_adj", "args->oom_score_adj"],
      ] as const;
      const fieldOf = (name: string) => (name.endsWith("_kb") ? name.slice(0, -3) : name);
      const columns = [column("pid", "args->pid"), ...optional.filter(([name]) => has(facts, "oom:mark_victim", fieldOf(name))).map(([name, expr]) => column(name, expr))];
      return [{ tag: "oom", attach: "tracepoint:oom:mark_victim", columns }];
    }
    case "tcp_retransmit":
      if (!has(facts, "tcp:tcp_retransmit_skb", "saddr_v6")) return "no tracepoint tcp:tcp_retransmit_skb with addresses";
      return [{ tag: "tcp_retransmit", attach: "tracepoint:tcp:tcp_retransmit_skb", columns: tcpColumns(facts, "tcp:tcp_retransmit_skb") }];
    case "tcp_reset": {
      const probes: Probe[] = [];
      if (has(facts, "tcp:tcp_send_reset", "saddr_v6")) probes.push({ tag: "tcp_reset_sent", attach: "tracepoint:tcp:tcp_send_reset", columns: tcpColumns(facts, "tcp:tcp_send_reset") });
      else if (has(facts, "tcp:tcp_send_reset", "saddr")) probes.push({ tag: "tcp_reset_sent_sa", attach: "tracepoint:tcp:tcp_send_reset", columns: sockaddrColumns() });
      if (has(facts, "tcp:tcp_receive_reset", "saddr_v6")) probes.push({ tag: "tcp_reset_received", attach: "tracepoint:tcp:tcp_receive_reset", columns: tcpColumns(facts, "tcp:tcp_receive_reset") });
      return probes.length > 0 ? probes : "no tracepoints tcp:tcp_send_reset/tcp_receive_reset";
    }
  }
}

/** The bpftrace program for these events, on this kernel. */
export function planKernelScript(events: readonly KernelEvent[], counted: readonly CountableEvent[], facts: KernelFacts): KernelPlan {
  const lines: string[] = [];
  const layouts = new Map<string, string[]>();
  const unavailable: KernelPlan["unavailable"] = [];
  const maps: string[] = [];
  for (const event of new Set(events)) {
    const isCounted = (counted as readonly string[]).includes(event);
    const probes = probesFor(event, isCounted, facts);
    if (typeof probes === "string") {
      unavailable.push({ event, reason: probes });
      continue;
    }
    if (isCounted) maps.push(`@${event}_n`);
    for (const probe of probes) {
      const print = probe.tag ? `print(("${probe.tag}", nsecs${probe.columns.map((c) => `, ${c.expr}`).join("")}));` : "";
      if (probe.tag) layouts.set(probe.tag, probe.columns.map((c) => c.name));
      const body = [probe.before, print, probe.after].filter(Boolean).join(" ");
      lines.push(`${probe.attach}${probe.predicate ? ` /${probe.predicate}/` : ""} { ${body} }`);
    }
  }
  // A clock sample every second (kernel time to wall time), and the counting
  // maps: cumulative, never cleared (a clear would lose what lands between the
  // print and it), their per-second deltas taken in user space.
  lines.push(`interval:s:1 { print(("tick", nsecs));${maps.map((map) => ` print(${map});`).join("")} }`);
  // bpftrace prints every map at exit: the pending opens are nobody's business.
  if (lines.some((line) => line.includes("@openat"))) lines.push("END { clear(@openat); }");
  // BEGIN runs once every probe is attached: "attached_probes" comes before.
  lines.push('BEGIN { print(("ready", nsecs)); }');
  layouts.set("tick", []);
  return { script: `${lines.join("\n")}\n`, layouts, unavailable, oomHasComm: has(facts, "oom:mark_victim", "comm") };
}

// --- reading bpftrace's JSON lines -------------------------------------------

/**
 * bpftrace 0.17's JSON writer escapes a byte over 0x7f as a sign-extended
 * `\uffffffXX`. That is not JSON; rewritten to `\u00XX` every string comes
 * out of JSON.parse as one code unit per byte, which textOf() turns back
 * into text. Escapes are matched left to right, so an escaped backslash
 * followed by "uffffff41" stays literal text.
 */
export function parseBpftraceLine(line: string): unknown {
  const fixed = line.includes("\\uffffff") ? line.replace(/\\(?:uffffff([0-9a-fA-F]{2})|[\s\S])/g, (escape, hex: string | undefined) => (hex ? `\\u00${hex}` : escape)) : line;
  return JSON.parse(fixed);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lossyUtf8 = new TextDecoder("utf-8");

/**
 * A string as bpftrace gave it (one code unit per byte) as text: UTF-8 when it
 * is; otherwise invalid bytes become U+FFFD and `hex` holds the exact bytes.
 */
export function textOf(raw: string): { text: string; hex?: string } {
  // ASCII, or a writer that already produced text (code units above 0xff).
  if (/^[\x00-\x7f]*$/.test(raw) || /[^\x00-\xff]/.test(raw)) return { text: raw };
  const bytes = Buffer.from(raw, "latin1");
  try {
    return { text: utf8.decode(bytes) };
  } catch {
    return { text: lossyUtf8.decode(bytes), hex: bytes.toString("hex") };
  }
}

const TCP_STATES = ["", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"];

/** An IPv6 address from 16 bytes, in its short form (as ntop would print it). */
function ipv6Of(bytes: number[]): string {
  const groups = Array.from({ length: 8 }, (_, index) => ((bytes[index * 2]! << 8) | bytes[index * 2 + 1]!).toString(16));
  if (groups.slice(0, 5).every((g) => g === "0") && groups[5] === "ffff") return `::ffff:${bytes.slice(12).join(".")}`;
  let best = { start: -1, length: 0 };
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === "0") length++;
    if (length > best.length && length > 1) best = { start, length };
  }
  if (best.start < 0) return groups.join(":");
  return `${groups.slice(0, best.start).join(":")}::${groups.slice(best.start + best.length).join(":")}`;
}

/** family, ports and addresses from a sockaddr_in/sockaddr_in6 laid out in bytes (little-endian family, network-order port). */
function sockaddrOf(bytes: number[]): { family: number; port: number; address: string } {
  const family = bytes[0]! | (bytes[1]! << 8);
  const port = (bytes[2]! << 8) | bytes[3]!;
  const address = family === 10 ? ipv6Of(bytes.slice(8, 24)) : bytes.slice(4, 8).join(".");
  return { family, port, address };
}

type Fields = AgentEvent["fields"];

/** The tcp tuple's columns as the event's flat fields. */
function tcpFields(values: Record<string, unknown>, tag: string): Fields {
  let fields: Fields;
  if (tag === "tcp_reset_sent_sa") {
    const bytes = (array: string) => Array.from({ length: 24 }, (_, index) => Number(values[`${array}${index}`]));
    const source = sockaddrOf(bytes("saddr"));
    const destination = sockaddrOf(bytes("daddr"));
    fields = { family: source.family === 10 ? "inet6" : "inet", saddr: source.address, sport: source.port, daddr: destination.address, dport: destination.port };
  } else {
    const v6 = values.family === 10;
    fields = {
      family: v6 ? "inet6" : "inet",
      saddr: String(v6 ? values.saddr6 : values.saddr4),
      sport: Number(values.sport),
      daddr: String(v6 ? values.daddr6 : values.daddr4),
      dport: Number(values.dport),
    };
  }
  if (values.state !== undefined) {
    const state = Number(values.state);
    fields.state = TCP_STATES[state] || String(state);
  }
  if (tag.startsWith("tcp_reset")) fields.direction = tag.startsWith("tcp_reset_sent") ? "sent" : "received";
  return fields;
}

/** Puts a decoded string on the event: top-level comm, or a field; a name not valid UTF-8 keeps its bytes in <name>_hex. */
function setText(event: AgentEvent, name: string, raw: string): void {
  const { text, hex } = textOf(raw);
  if (name === "comm") event.comm = text;
  else event.fields[name] = text;
  if (hex !== undefined) event.fields[`${name}_hex`] = hex;
  if (name === "filename" && Buffer.byteLength(raw, "latin1") >= STRING_BYTES - 1) event.fields.filename_truncated = true;
}

/** One printed tuple as an event (without source and time, which the caller sets); undefined for the clock tick and unknown tags. */
export function eventOfTuple(tuple: unknown[], layouts: Map<string, string[]>): Omit<AgentEvent, "source" | "time"> | undefined {
  const tag = tuple[0];
  if (typeof tag !== "string" || tag === "tick" || tag === "ready") return undefined;
  const names = layouts.get(tag);
  if (!names) return undefined;
  const values: Record<string, unknown> = {};
  names.forEach((name, index) => (values[name] = tuple[index + 2]));
  const kind = tag.startsWith("tcp_reset") ? "tcp_reset" : tag;
  if (kind.startsWith("tcp_")) return { kind, fields: tcpFields(values, tag) };
  const event: AgentEvent = { source: "", kind, time: 0, fields: {} };
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (name === "pid") event.pid = Number(value);
    else if (typeof value === "string") setText(event, name, value);
    else if (name === "code") {
      // do_exit's code: a signal in the low 7 bits, else the exit status above them.
      const code = Number(value);
      if (code & 0x7f) {
        event.fields.signal = code & 0x7f;
        if (code & 0x80) event.fields.core_dumped = true;
      } else event.fields.exit_code = (code >> 8) & 0xff;
    } else event.fields[name] = Number(value);
  }
  if (kind === "open") {
    const ret = Number(event.fields.ret);
    if (ret >= 0) event.fields.fd = ret;
    else event.fields.errno = -ret;
  }
  const { source: _source, time: _time, ...rest } = event;
  return rest;
}
