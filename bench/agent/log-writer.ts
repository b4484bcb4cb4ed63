// A steady stream of log lines: `rate` lines a second for `seconds`,
// appended to a file one write(2) each, paced in 10 ms slices. Each line
// carries its sequence number and the wall time (epoch ms, µs precision)
// taken just before its write; `markers` lines a second of them, spread
// evenly, say ALERT (the lines the rules and scripts under test alert on).
// Prints one JSON line when done: lines written, rate reached, late slices.
// Run alone: bun bench/agent/log-writer.ts FILE RATE SECONDS [MARKERS_PER_SEC]
import { closeSync, openSync, writeSync } from "node:fs";

export interface LogWriterReport {
  written: number;
  /** Sequence numbers of the ALERT lines. */
  markers: number[];
  achievedRate: number;
  lateSlices: number;
}

/** Whether line `seq` (from 0) is one of the `markers` a second out of `rate`: spread evenly, never two in a row unless markers > rate / 2. */
export const isMarker = (seq: number, rate: number, markers: number) => markers > 0 && Math.floor(((seq + 1) * markers) / rate) > Math.floor((seq * markers) / rate);

/** A syslog-like line of about 130 bytes; the time is the one its write is stamped with. */
export function logLine(seq: number, atMs: number, marker: boolean): string {
  const level = marker ? "error" : "info";
  const text = marker ? "ALERT upstream timed out" : "request served";
  return `2026-12-06T17:00:00Z web-7 app[4242]: level=${level} seq=${String(seq).padStart(8, "0")} t=${atMs.toFixed(3)} ${text} path=/api/v1/items/${seq % 1000} status=200\n`;
}

/** The write time a line carries (epoch ms), and its sequence number. */
export function parseLogLine(line: string): { seq: number; atMs: number } | undefined {
  const match = /seq=(\d+) t=([\d.]+)/.exec(line);
  return match ? { seq: Number(match[1]), atMs: Number(match[2]) } : undefined;
}

const nowMs = () => performance.timeOrigin + performance.now();

export async function writeLogStream(file: string, rate: number, seconds: number, markersPerSec: number): Promise<LogWriterReport> {
  const fd = openSync(file, "a");
  const sliceMs = 10;
  const total = Math.round(rate * seconds);
  const markers: number[] = [];
  const t0 = performance.now();
  let written = 0;
  let lateSlices = 0;
  try {
    for (let slice = 0; written < total; slice++) {
      const due = Math.min(total, Math.round((rate * (slice + 1) * sliceMs) / 1000));
      for (; written < due; written++) {
        const marker = isMarker(written, rate, markersPerSec);
        if (marker) markers.push(written);
        writeSync(fd, logLine(written, nowMs(), marker));
      }
      const wait = t0 + (slice + 1) * sliceMs - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      else lateSlices++;
    }
  } finally {
    closeSync(fd);
  }
  return { written, markers, achievedRate: (written * 1000) / (performance.now() - t0), lateSlices };
}

if (import.meta.main) {
  const [file, rate, seconds, markers] = process.argv.slice(2);
  if (!file || !rate || !seconds) {
    console.error("usage: bun bench/agent/log-writer.ts FILE RATE SECONDS [MARKERS_PER_SEC]");
    process.exit(64);
  }
  console.log(JSON.stringify(await writeLogStream(file, Number(rate), Number(seconds), Number(markers ?? 0))));
}
