/**
 * Buffers output lines and flushes them in batches: thousands of results a
 * second would otherwise cost a write call each.
 */
export class LineWriter {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

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
    const text = `${this.pending.join("\n")}\n`;
    this.pending = [];
    this.stream.write(text);
  }

  async close(): Promise<void> {
    this.flush();
    await new Promise<void>((resolve) => (this.stream.writableNeedDrain ? this.stream.once("drain", resolve) : resolve()));
  }
}
