import { redact } from "../observe/index.ts";
import { alertPayload, type AgentAlert } from "./rules.ts";
import type { Spool } from "./spool.ts";

export interface DeliveryOptions {
  /** opskit serve's base URL; alerts go to <url>/api/v1/alerts. */
  url: string;
  /** The webhook token, sent as Bearer. */
  token?: string;
  timeoutMs: number;
  /** Alerts per request at most. */
  batchMax: number;
  /** How long an alert waits for others to share its request. */
  lingerMs: number;
  spool: Spool;
  /** Told once per kind of trouble (the server unreachable, the token refused), and when it is over. */
  warn(line: string): void;
  delivered?(alerts: readonly AgentAlert[], nowMs: number): void;
  /** A request that failed and will be tried again. */
  failed?(): void;
  /** Alerts dropped, oldest first, because neither the spool nor memory could hold them. */
  dropped?(count: number): void;
  /** Alerts the server refused as malformed (400): they can never be delivered, so they are counted and dropped. */
  rejected?(count: number): void;
}

type Outcome = { ok: true } | { ok: false; retry: true; why: string; kind: "unreachable" | "refused" } | { ok: false; retry: false; why: string } | { ok: false; tooLarge: true };

const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 5_000;
/** While the server is down, new alerts are written to the spool in groups this far apart (one fsync each). */
const SPOOL_GROUP_MS = 50;
/** Batches that may wait in memory for a server that is up but slower than the rules. */
const SPILL_BATCHES = 10;
/** Alerts held in memory while the spool cannot be written. */
const MAX_PENDING = 100_000;

/**
 * Alerts to opskit serve's generic endpoint, in batches, in the order they
 * were raised. While the server answers, alerts go straight from memory.
 * When a request fails they go to the spool, and so does everything after
 * them until the spool is empty again, so order holds: the spool drains
 * first, oldest first, each batch deleted only once the server answered 2xx
 * (a batch may reach the server twice after a crash; it folds repeats by
 * fingerprint). One loop sends, so there is one request at a time.
 */
export class Delivery {
  readonly #endpoint: string;
  #pending: AgentAlert[] = [];
  #down = false;
  #directInFlight = false;
  #stopping = false;
  #wake: (() => void) | undefined;
  #spoolTimer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = new AbortController();
  #loop: Promise<void>;
  #backoffMs = BACKOFF_MIN_MS;
  #batchLimit: number;
  #warned = new Set<string>();

  constructor(readonly options: DeliveryOptions) {
    const base = options.url.endsWith("/") ? options.url : `${options.url}/`;
    this.#endpoint = new URL("api/v1/alerts", base).href;
    this.#batchLimit = options.batchMax;
    this.#loop = this.#run();
  }

  /** Whether the last request reached the server (true until one fails). */
  get reachable(): boolean {
    return !this.#down;
  }

  /** Alerts in memory, not yet sent or spooled. */
  get pending(): number {
    return this.#pending.length;
  }

  send(alert: AgentAlert): void {
    this.#pending.push(alert);
    const spill = this.#pending.length >= SPILL_BATCHES * this.options.batchMax;
    if (this.#down || this.options.spool.count > 0) {
      // The spool has the floor: group what arrives into one durable write (at once when it piles up).
      if (spill) return this.#spoolPending();
      this.#spoolTimer ??= setTimeout(() => {
        this.#spoolTimer = undefined;
        this.#spoolPending();
        // An idle loop has something to send; one backing off goes on waiting out its backoff.
        this.#wake?.();
      }, SPOOL_GROUP_MS);
      return;
    }
    // Alerts raised faster than the server takes them wait on disk, not in memory; not while a batch
    // taken from memory is in flight, which would go to the spool behind them if it failed.
    if (spill && !this.#directInFlight) this.#spoolPending();
    this.#wake?.();
  }

  /**
   * Stops: the request in flight gets graceMs to be answered, then what is
   * left in memory goes to the spool, for the next start to deliver.
   */
  async stop(graceMs = 2_000): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    const timer = setTimeout(() => this.#inFlight.abort(), graceMs);
    await this.#loop;
    clearTimeout(timer);
    clearTimeout(this.#spoolTimer);
    this.#spoolPending();
  }

  #spoolPending(): void {
    if (this.#pending.length === 0) return;
    try {
      this.options.spool.append(this.#pending.map((alert) => JSON.stringify(alert)));
      this.#pending = [];
    } catch (error) {
      // A spool that cannot be written (a full disk): alerts wait in memory, within a bound, until it can.
      this.#warnOnce("spool", `opskit agent: cannot write the spool ${this.options.spool.path}: ${(error as Error).message}; alerts are held in memory meanwhile (at most ${MAX_PENDING})`);
      const excess = this.#pending.length - MAX_PENDING;
      if (excess > 0) {
        this.#pending.splice(0, excess);
        this.options.dropped?.(excess);
      }
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      if (this.#pending.length === 0 && this.options.spool.count === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      if (this.options.spool.count > 0 || this.#down) {
        this.#spoolPending();
        const rows = this.options.spool.peek(this.#batchLimit);
        if (rows.length > 0) {
          const alerts = rows.map((row) => JSON.parse(row.body) as AgentAlert);
          const done = await this.#deliver(alerts);
          if (done) this.options.spool.ack(rows.at(-1)!.id);
          else await this.#backoff();
          continue;
        }
        // Nothing on disk though the server was away: the spool could not be written; send from memory.
      } else if (this.options.lingerMs > 0 && this.#pending.length < this.#batchLimit) await this.#linger();
      const batch = this.#pending.splice(0, this.#batchLimit);
      if (batch.length === 0) continue;
      this.#directInFlight = true;
      const done = await this.#deliver(batch);
      this.#directInFlight = false;
      if (done && this.#pending.length >= SPILL_BATCHES * this.options.batchMax) this.#spoolPending();
      if (!done) {
        // Back to the front, then everything to the spool: order holds and nothing waits in memory for a server that is away.
        this.#pending.unshift(...batch);
        this.#spoolPending();
        await this.#backoff();
      }
    }
  }

  /** Sends one batch; true when it is done with (delivered, or refused for good and counted). */
  async #deliver(alerts: AgentAlert[]): Promise<boolean> {
    const outcome = await this.#post(alerts);
    if (outcome.ok) {
      if (this.#down) this.options.warn(`opskit agent: the server at ${this.#shown()} answers again; delivering what was spooled`);
      this.#down = false;
      this.#warned.clear();
      this.#backoffMs = BACKOFF_MIN_MS;
      this.options.delivered?.(alerts, Date.now());
      return true;
    }
    if ("tooLarge" in outcome) {
      if (alerts.length === 1) {
        this.options.rejected?.(1);
        this.#warnOnce("too-large", `opskit agent: the server refused an alert as too large (413); it is dropped and counted in opskit_agent_alerts_rejected_total`);
        return true;
      }
      this.#batchLimit = Math.max(1, Math.floor(alerts.length / 2));
      return false;
    }
    if (!outcome.retry) {
      this.options.rejected?.(alerts.length);
      this.options.warn(redact(`opskit agent: the server refused ${alerts.length} alert${alerts.length === 1 ? "" : "s"} as malformed: ${outcome.why}; dropped and counted in opskit_agent_alerts_rejected_total`));
      return true;
    }
    this.#down = true;
    this.options.failed?.();
    this.#warnOnce(outcome.kind, redact(`opskit agent: cannot deliver alerts to ${this.#shown()}: ${outcome.why}; alerts are spooled on disk and sent when it answers`));
    return false;
  }

  async #post(alerts: AgentAlert[]): Promise<Outcome> {
    const signal = AbortSignal.any([this.#inFlight.signal, AbortSignal.timeout(this.options.timeoutMs)]);
    let response: Response;
    try {
      response = await fetch(this.#endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
        body: JSON.stringify(alerts.map(alertPayload)),
        signal,
        redirect: "error",
      });
    } catch (error) {
      const why = (error as Error).name === "TimeoutError" ? `no answer within ${this.options.timeoutMs} ms` : (error as Error).message;
      return { ok: false, retry: true, why, kind: "unreachable" };
    }
    const text = await response.text().catch(() => "");
    if (response.ok) return { ok: true };
    if (response.status === 413) return { ok: false, tooLarge: true };
    const detail = `${response.status}${text ? ` ${summary(text)}` : ""}`;
    if (response.status === 401 || response.status === 403) return { ok: false, retry: true, why: `the server refused the token (${detail}): set agent.server.token to its webhook token`, kind: "refused" };
    if (response.status === 400 || response.status === 422) return { ok: false, retry: false, why: detail };
    return { ok: false, retry: true, why: `HTTP ${detail}`, kind: "unreachable" };
  }

  async #linger(): Promise<void> {
    const end = Date.now() + this.options.lingerMs;
    while (!this.#stopping && this.#pending.length < this.#batchLimit && Date.now() < end) await this.#pause(end - Date.now());
  }

  async #backoff(): Promise<void> {
    const wait = this.#backoffMs;
    this.#backoffMs = Math.min(BACKOFF_MAX_MS, this.#backoffMs * 2);
    // A stop cuts the wait short; new alerts do not (they go to the spool meanwhile).
    const end = Date.now() + wait;
    while (!this.#stopping && Date.now() < end) await this.#pause(end - Date.now());
  }

  /** Waits up to ms, or until woken (an alert to send, a stop). */
  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  #warnOnce(kind: string, line: string): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    this.options.warn(line);
  }

  #shown(): string {
    return new URL(this.#endpoint).origin;
  }
}

/** The first line of a server's error body, short. */
function summary(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    const message = typeof body.error === "string" ? body.error : (body.error?.message ?? body.message);
    if (message) return message.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.split("\n")[0]!.slice(0, 300);
}

/**
 * One delivery, no spool (opskit agent --once --send): the alerts in
 * batches of up to 1000 (the generic endpoint's limit); throws an OpsError
 * (exit 1) on the first batch the server did not take.
 */
export async function postAlertsOnce(url: string, token: string | undefined, alerts: readonly AgentAlert[], timeoutMs: number): Promise<void> {
  const { OpsError, ExitCode } = await import("../errors.ts");
  const base = url.endsWith("/") ? url : `${url}/`;
  const endpoint = new URL("api/v1/alerts", base).href;
  for (let i = 0; i < alerts.length; i += 1000) {
    const batch = alerts.slice(i, i + 1000);
    let status: number;
    let text = "";
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(batch.map(alertPayload)),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "error",
      });
      status = response.status;
      text = await response.text().catch(() => "");
    } catch (error) {
      throw new OpsError({ code: "E_AGENT_DELIVERY", message: redact(`cannot deliver alerts to ${new URL(endpoint).origin}: ${(error as Error).message}`), hint: "check agent.server.url and that opskit serve runs there", exitCode: ExitCode.transport });
    }
    if (status < 200 || status > 299) {
      const hint = status === 401 || status === 403 ? "set agent.server.token to the server's webhook token" : "see the server's answer above";
      throw new OpsError({ code: "E_AGENT_DELIVERY", message: redact(`the server answered ${status}${text ? ` ${summary(text)}` : ""} to ${batch.length} alerts (${i} sent before)`), hint, exitCode: ExitCode.transport });
    }
  }
}
