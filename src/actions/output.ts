/** Keeps the last `max` bytes of a stream: the tail is what explains a failure. */
export class TailBuffer {
  private chunks: string[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly max: number) {}

  push(text: string): void {
    this.chunks.push(text);
    this.bytes += text.length;
    // Trim from the front, cutting into the oldest chunk rather than dropping
    // it whole: a large chunk followed by a small one must keep the large one's tail.
    while (this.bytes > this.max && this.chunks.length > 1) {
      const over = this.bytes - this.max;
      const first = this.chunks[0]!;
      if (first.length <= over) {
        this.chunks.shift();
        this.bytes -= first.length;
      } else {
        this.chunks[0] = first.slice(over);
        this.bytes -= over;
      }
      this.truncated = true;
    }
  }

  toString(): string {
    const text = this.chunks.join("");
    if (text.length <= this.max) return text;
    this.truncated = true;
    return text.slice(text.length - this.max);
  }
}

/** Builds an ActionResult for a command that ran: ok is exit code 0. */
export function commandResult(output: { exitCode: number | null; signal: string | null; stdout: string; stderr: string; durationMs: number }, changed = true) {
  const ok = output.exitCode === 0;
  return {
    ok,
    changed: ok && changed,
    exitCode: output.exitCode,
    stdout: output.stdout,
    stderr: output.stderr,
    durationMs: output.durationMs,
    ...(ok ? {} : { error: { code: "E_EXIT_STATUS", message: output.signal ? `killed by ${output.signal}` : `exit status ${output.exitCode}` } }),
  };
}
