import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Spool } from "./spool.ts";

const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "opskit-spool-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("agent spool", () => {
  test("keeps records in order across a reopen and forgets them only when acknowledged", () => {
    const path = join(freshDir(), "spool.db");
    const spool = new Spool(path, 1024 * 1024);
    spool.append(["a", "b"]);
    spool.append(["c"]);
    expect(spool.count).toBe(3);
    expect(spool.bytes).toBe(3 + 3 * Spool.RECORD_OVERHEAD);
    const first = spool.peek(2);
    expect(first.map((r) => r.body)).toEqual(["a", "b"]);
    spool.ack(first.at(-1)!.id);
    spool.close();
    const reopened = new Spool(path, 1024 * 1024);
    expect(reopened.count).toBe(1);
    expect(reopened.bytes).toBe(1 + Spool.RECORD_OVERHEAD);
    expect(reopened.peek(10).map((r) => r.body)).toEqual(["c"]);
    reopened.close();
  });

  test("when full, drops the oldest records to make room and counts every one; a record larger than the spool is dropped too", () => {
    const drops: number[] = [];
    const record = (n: number) => `${String(n).padStart(4, "0")}${"x".repeat(80)}`;
    const cost = record(0).length + Spool.RECORD_OVERHEAD;
    const spool = new Spool(join(freshDir(), "spool.db"), cost * 10, (n) => drops.push(n));
    for (let n = 0; n < 10; n++) spool.append([record(n)]);
    expect(drops).toEqual([]);
    spool.append([record(10), record(11), record(12)]);
    expect(drops).toEqual([3]);
    expect(spool.count).toBe(10);
    expect(spool.bytes).toBeLessThanOrEqual(cost * 10);
    expect(spool.peek(100).map((r) => r.body.slice(0, 4))).toEqual(["0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011", "0012"]);
    spool.append(["y".repeat(cost * 10)]);
    expect(drops).toEqual([3, 1]);
    expect(spool.count).toBe(10);
    spool.close();
  });

  test("kill -9 in the middle of appends loses nothing that was acknowledged", async () => {
    const dir = freshDir();
    const path = join(dir, "spool.db");
    const writer = join(dir, "writer.ts");
    // Appends numbered records as fast as it can, and says which ones returned.
    writeFileSync(
      writer,
      `import { Spool } from ${JSON.stringify(join(import.meta.dir, "spool.ts"))};
const spool = new Spool(${JSON.stringify(path)}, 64 * 1024 * 1024);
let n = Number(process.argv[2]);
for (;;) {
  const batch = [n, n + 1, n + 2].map((i) => JSON.stringify({ i, pad: "p".repeat(i % 200) }));
  spool.append(batch);
  n += 3;
  process.stdout.write(\`\${n - 1}\\n\`);
}
`,
    );
    let next = 0;
    for (let round = 0; round < 4; round++) {
      const child = Bun.spawn([process.execPath, writer, String(next)], { stdout: "pipe", stderr: "pipe" });
      let acknowledged = -1;
      const reader = child.stdout.getReader();
      let text = "";
      const deadline = Date.now() + 20_000;
      // Kill it at a different point each round, always mid-stream.
      const target = next + 30 + round * 97;
      while (acknowledged < target && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        const lines = text.split("\n");
        text = lines.pop()!;
        for (const line of lines) acknowledged = Math.max(acknowledged, Number(line));
      }
      child.kill("SIGKILL");
      await child.exited;
      expect(acknowledged).toBeGreaterThanOrEqual(target);
      const spool = new Spool(path, 64 * 1024 * 1024);
      const rows = spool.peek(1_000_000).map((r) => JSON.parse(r.body) as { i: number; pad: string });
      // Every record is whole, in order, with no gap; everything acknowledged is there.
      expect(rows.map((r) => r.i)).toEqual(Array.from({ length: rows.length }, (_, i) => i));
      for (const row of rows) expect(row.pad).toBe("p".repeat(row.i % 200));
      expect(rows.length).toBeGreaterThanOrEqual(acknowledged + 1);
      expect(spool.count).toBe(rows.length);
      next = rows.length;
      spool.close();
    }
  });
});
