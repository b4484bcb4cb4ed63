import { redact } from "../observe/index.ts";

/**
 * Buffers output lines and writes them in batches: thousands of results a
 * second would otherwise cost a write call each. Writes with console.log,
 * which Bun flushes synchronously and cheaply; process.stdout's first use
 * alone costs milliseconds of startup. Registered secrets are masked in
 * whatever it writes (a plan, a result, a JSON line).
 */
export class LineWriter {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly write: (text: string) => void = console.log) {}

  line(text: string): void {
    this.pending.push(text);
    if (this.pending.length >= 512) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join("\n");
    this.pending = [];
    this.write(redact(text));
  }
}
