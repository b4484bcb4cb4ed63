/**
 * Every secret value opskit resolves is registered here, and everything that
 * leaves the process (command output, events, the journal, errors, CLI lines)
 * passes through `redact`, which masks each registered value as `***`, the
 * way CI systems mask their secrets in job logs.
 */

export const MASK = "***";

/**
 * Values shorter than this are not masked: "1234", "admin" or "true" occur in
 * ordinary output, so masking them would garble it while protecting little (a
 * secret that short is guessable anyway). GitLab refuses to mask variables
 * under 8 characters; 6 keeps short PINs and test tokens out of the way but
 * still covers every generated token and real password.
 */
export const MIN_SECRET_LENGTH = 6;

export class Redactor {
  /** Longest first, so that a secret containing another is masked whole. */
  private secrets: string[] = [];
  private known = new Set<string>();
  /** Names of environment variables that held a secret: never passed on to commands. */
  readonly variableNames = new Set<string>();

  /** Registers a secret value; a value with several lines registers each line too (a PEM key printed line by line). */
  add(value: string, variableName?: string): void {
    if (variableName) this.variableNames.add(variableName);
    const candidates = [value, ...(value.includes("\n") ? value.split(/\r?\n/).map((line) => line.trim()) : [])];
    let added = false;
    for (const candidate of candidates) {
      if (candidate.length < MIN_SECRET_LENGTH || this.known.has(candidate)) continue;
      this.known.add(candidate);
      this.secrets.push(candidate);
      added = true;
    }
    if (added) this.secrets.sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.secrets.length;
  }

  /** Whether a value is (or contains) a registered secret. */
  holds(text: string): boolean {
    return this.secrets.some((secret) => text.includes(secret));
  }

  redact(text: string): string {
    if (this.secrets.length === 0 || text.length < MIN_SECRET_LENGTH) return text;
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.replaceAll(secret, MASK);
    return out;
  }

  /**
   * Masks every string inside a JSON-like value (an event, a result); what
   * holds no secret is returned as it is, not copied.
   */
  redactValue<T>(value: T): T {
    if (this.secrets.length === 0) return value;
    return this.walk(value, 0) as T;
  }

  private walk(value: unknown, depth: number): unknown {
    if (typeof value === "string") return this.redact(value);
    if (value === null || typeof value !== "object" || depth > 32) return value;
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      value.forEach((item, i) => {
        const next = this.walk(item, depth + 1);
        if (next !== item) (copy ??= [...value])[i] = next;
      });
      return copy ?? value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    let copy: Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value)) {
      const next = this.walk(item, depth + 1);
      if (next !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = next;
    }
    return copy ?? value;
  }

  /** A redactor for one output stream that arrives in chunks: see OutputRedactor. */
  stream(): OutputRedactor {
    return new OutputRedactor(this);
  }

  /** The longest end of `text` that could be the start of a secret still to come. */
  pendingTail(text: string): number {
    let longest = 0;
    for (const secret of this.secrets) {
      const max = Math.min(secret.length - 1, text.length);
      const first = secret.charCodeAt(0);
      for (let k = max; k > longest; k--) {
        if (text.charCodeAt(text.length - k) === first && secret.startsWith(text.slice(text.length - k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }
}

/**
 * Masks a stream chunk by chunk: a secret split across two chunks is still
 * masked. The end of a chunk that could begin a secret is held back until the
 * next chunk (or `flush`) shows whether it does; output that cannot begin one
 * is passed on at once, so streaming is not delayed.
 */
export class OutputRedactor {
  private held = "";

  constructor(private readonly redactor: Redactor) {}

  push(chunk: string): string {
    if (this.redactor.size === 0 && this.held === "") return chunk;
    const text = this.redactor.redact(this.held + chunk);
    const keep = this.redactor.pendingTail(text);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** The held tail, at the end of the stream. */
  flush(): string {
    const rest = this.redactor.redact(this.held);
    this.held = "";
    return rest;
  }
}

/** The process-wide redactor: one set of secrets, whichever part of opskit resolved them. */
export const secrets = new Redactor();

/** Registers a resolved secret value with the process-wide redactor. */
export function registerSecret(value: string, variableName?: string): void {
  secrets.add(value, variableName);
}

/** Masks the registered secrets in text. */
export function redact(text: string): string {
  return secrets.redact(text);
}
