import { randomBytes } from "node:crypto";
import { shellQuote } from "../../expr/index.ts";

// What RemoteShell writes to the remote /bin/sh (started as `sh -s`, reading
// its script from the channel) and how it cuts the replies apart.
//
// Each run is framed by markers made of 128 random bits, fresh per run, on
// both streams: `S<id>` before the command starts and `E<id>` after it ended
// (on stdout followed by the exit status and a dot). A run's output is what
// lies between its two markers; whatever comes outside any frame (a login
// banner, output from a background job that outlived its run) is dropped. A
// command never sees its markers: they are in the driver's script, not in
// the command's environment or arguments, and printed only after it exited.
//
// Each command runs as `( eval '<command>' )`: a forked subshell of the
// driver, no exec and no shell start-up, where `exit`, `cd` or a syntax
// error end only that run. The trade-off: the command shares the driver's
// process group, so stopping it (timeout, abort) means killing the whole
// group (stop.ts; the driver reported the group's id when it started), which
// ends the driver too; the next run starts a new shell. A separate group per
// command would need setsid(1) and two execs per run, which measured as
// costly as a new exec channel.

export interface RunMarkers {
  start: string;
  end: string;
}

export function newMarkers(): RunMarkers {
  const id = randomBytes(16).toString("hex");
  return { start: `<opskit:S:${id}>`, end: `<opskit:E:${id}>` };
}

/**
 * An operand for `printf '%b'` that reproduces `bytes` exactly, NUL and
 * invalid UTF-8 included, as printable ASCII inside single quotes.
 */
export function printfOperand(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) {
    if (byte === 0x5c) out += "\\\\";
    else if (byte === 0x0a || byte === 0x09 || (byte >= 0x20 && byte < 0x7f && byte !== 0x27)) out += String.fromCharCode(byte);
    // %b takes \0 and up to three octal digits; always three, so a digit that follows is not swallowed.
    else out += `\\0${byte.toString(8).padStart(3, "0")}`;
  }
  return `'${out}'`;
}

function frameOpen(markers: RunMarkers): string {
  return `printf '%s' '${markers.start}'; printf '%s' '${markers.start}' >&2`;
}

function frameClose(markers: RunMarkers): string {
  return `printf '%s' '${markers.end}' >&2; printf '%s%s.' '${markers.end}' "$__opskit_status"`;
}

export function runScript(markers: RunMarkers, command: string, stdin: Uint8Array | undefined): string {
  const child = `( eval ${shellQuote(command)} )`;
  const launch = stdin && stdin.length > 0 ? `printf '%b' ${printfOperand(stdin)} | ${child}` : `${child} </dev/null`;
  return [frameOpen(markers), launch, "__opskit_status=$?", frameClose(markers), ""].join("\n");
}

const dot = 0x2e;

/**
 * How many bytes at the end of `data` could be the start of `marker`: those
 * are held back until the next chunk, the rest can be passed on at once.
 */
export function markerPrefixAtEnd(data: Uint8Array, marker: Uint8Array): number {
  for (let length = Math.min(data.length, marker.length - 1); length > 0; length--) {
    let matches = true;
    for (let i = 0; i < length && matches; i++) matches = data[data.length - length + i] === marker[i];
    if (matches) return length;
  }
  return 0;
}

/**
 * Cuts one run's bytes out of one stream of the shell channel: drops what
 * precedes the start marker, passes on what follows it up to the end marker,
 * then (on stdout) reads the exit status. A marker split across chunks is
 * found: the bytes at a chunk's end that could begin a marker are held back
 * until the next chunk; the rest passes on at once, for live output.
 */
export class RunFrame {
  private state: "before" | "inside" | "status" | "done" = "before";
  private pending: Buffer = Buffer.alloc(0);
  private readonly startBytes: Buffer;
  private readonly endBytes: Buffer;
  status: number | undefined;

  constructor(
    markers: RunMarkers,
    private readonly withStatus: boolean,
    private readonly sink: (chunk: Buffer) => void,
    private readonly onDone: () => void,
  ) {
    this.startBytes = Buffer.from(markers.start);
    this.endBytes = Buffer.from(markers.end);
  }

  get done(): boolean {
    return this.state === "done";
  }

  /** The run was cut short: the bytes held back in case they began the end marker are output after all. */
  flush(): void {
    if (this.state === "inside" && this.pending.length > 0) this.sink(this.pending);
    this.pending = Buffer.alloc(0);
  }

  push(chunk: Buffer): void {
    if (this.state === "done") return;
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    if (this.state === "before") {
      const at = data.indexOf(this.startBytes);
      if (at < 0) {
        this.pending = Buffer.from(data.subarray(Math.max(0, data.length - this.startBytes.length + 1)));
        return;
      }
      data = data.subarray(at + this.startBytes.length);
      this.state = "inside";
    }
    if (this.state === "inside") {
      const at = data.indexOf(this.endBytes);
      if (at < 0) {
        const safe = data.length - markerPrefixAtEnd(data, this.endBytes);
        if (safe > 0) this.sink(data.subarray(0, safe));
        this.pending = Buffer.from(data.subarray(safe));
        return;
      }
      if (at > 0) this.sink(data.subarray(0, at));
      data = data.subarray(at + this.endBytes.length);
      this.state = this.withStatus ? "status" : "done";
    }
    if (this.state === "status") {
      const at = data.indexOf(dot);
      if (at < 0) {
        this.pending = Buffer.from(data);
        return;
      }
      this.status = Number.parseInt(data.subarray(0, at).toString("latin1"), 10);
      this.state = "done";
    }
    // Bytes after the frame belong to no run and are dropped.
    this.onDone();
  }
}
