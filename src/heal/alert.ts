import type { AlertSourceKind } from "../journal/index.ts";

/** One alert, whatever sent it (see sources/): Alertmanager, a generic webhook, Grafana, or a check. */
export interface Alert {
  /** The kind of the source that received it (sources/index.ts). */
  source: AlertSourceKind;
  fingerprint: string;
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Epoch ms. */
  startsAt: number;
  /** Epoch ms; absent when unset (Alertmanager sends Go's zero time for that). */
  endsAt?: number;
  generatorURL?: string;
}

const utf8 = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Alertmanager's alert fingerprint (Prometheus' model.LabelSet.Fingerprint):
 * FNV-1a 64 over the UTF-8 bytes of each label name and value, names sorted
 * bytewise as Go sorts strings, each name and value followed by 0xff (a byte
 * that cannot occur in UTF-8), rendered as 16 lowercase hex digits. The same
 * labels give the same fingerprint whichever way the alert arrived.
 */
export function alertFingerprint(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([name, value]) => [utf8.encode(name), utf8.encode(value)] as const);
  pairs.sort((a, b) => compareBytes(a[0], b[0]));
  // The 64-bit state as two 32-bit halves; the prime is 2^40 + 0x1b3.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  const add = (byte: number) => {
    lo = (lo ^ byte) >>> 0;
    const low = lo * 0x1b3;
    hi = (hi * 0x1b3 + Math.floor(low / 0x1_0000_0000) + ((lo << 8) >>> 0)) >>> 0;
    lo = low >>> 0;
  };
  for (const [name, value] of pairs) {
    for (const byte of name) add(byte);
    add(0xff);
    for (const byte of value) add(byte);
    add(0xff);
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}
