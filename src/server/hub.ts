// The dashboard's live feed as a sink, like the journal or the metrics: the
// healer's events, its runs' events and the checks' changes come in, and go
// out to each connected client as server-sent events. With nobody connected
// an event costs a size check (a run event also a few map operations: the
// live output is kept for downloads whoever watches).
import type { RunEvent } from "../engine/index.ts";
import type { CheckState, HealEvent } from "../heal/index.ts";
import { LiveOutput } from "./live-output.ts";
import { apiHeaders } from "./http.ts";
import { SseClient, sseFrame } from "./sse.ts";

export interface HubOptions {
  /** A comment line this often keeps proxies and the client's idle timer from closing the stream. */
  heartbeatMs?: number;
  /** Bytes waiting for one client at most (a client that falls further behind is cut off). */
  clientBacklogBytes?: number;
  /** Clients at once at most; one more is refused with 503. */
  maxClients?: number;
  /** The live output's bounds (tests make them small). */
  output?: LiveOutput;
}

/** How long a client waits before it reconnects after the stream ends. */
const RETRY_MS = 3_000;
const HEARTBEAT_MS = 15_000;
/** A client that reads keeps its backlog near zero; one a megabyte behind has stalled. With MAX_CLIENTS, 100 MiB at worst. */
const CLIENT_BACKLOG_BYTES = 1024 * 1024;
const MAX_CLIENTS = 100;
const encoder = new TextEncoder();

/** A step.finished without its output: the output went out as it came (run streams) or is fetched (GET …/output). */
function withoutOutput(event: RunEvent): unknown {
  if (event.type !== "step.finished") return event;
  const { stdout, stderr, data: _data, ...result } = event.result;
  return { ...event, result: { ...result, stdoutBytes: Buffer.byteLength(stdout), stderrBytes: Buffer.byteLength(stderr) } };
}

/** Heal events a person watching has no use for live: a storm's repeats and the processing's own bookkeeping. */
function quiet(event: HealEvent): boolean {
  return event.type === "notifications.processed" || (event.type === "alert.received" && event.outcome === "repeat" && event.status === "firing");
}

export class EventHub {
  readonly output: LiveOutput;
  /** Clients of the general feed: heal, run lifecycle and check events. */
  readonly #general = new Set<SseClient>();
  /** Clients following one run, by run id. */
  readonly #followers = new Map<string, Set<SseClient>>();
  readonly #live = new Set<string>();
  #clients = 0;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #backlog: number;
  readonly #maxClients: number;
  #closed = false;

  constructor(options: HubOptions = {}) {
    this.output = options.output ?? new LiveOutput();
    this.#backlog = options.clientBacklogBytes ?? CLIENT_BACKLOG_BYTES;
    this.#maxClients = options.maxClients ?? MAX_CLIENTS;
    const ping = encoder.encode(": ping\n\n");
    this.#heartbeat = setInterval(() => {
      for (const client of this.#all()) client.send(ping);
    }, options.heartbeatMs ?? HEARTBEAT_MS);
    this.#heartbeat.unref?.();
  }

  /** Clients connected now. */
  get clients(): number {
    return this.#clients;
  }

  /** Whether a run is executing on this server now. */
  isLive(runId: string): boolean {
    return this.#live.has(runId);
  }

  /** The healer's sink. */
  readonly heal = (event: HealEvent): void => {
    if (this.#general.size === 0 || quiet(event)) return;
    this.#broadcast(this.#general, sseFrame("heal", event));
  };

  /** The runs' sink (remediations, escalations, schedules). */
  readonly run = (event: RunEvent): void => {
    if (this.#closed) return;
    if (event.type === "run.started") this.#live.add(event.runId);
    else if (event.type === "run.finished") this.#live.delete(event.runId);
    const place = this.output.apply(event);
    if (this.#clients === 0) return;
    const followers = this.#followers.get(event.runId);
    if (event.type === "step.output") {
      if (!followers || !place) return;
      const { target, step, stream, text } = event;
      this.#broadcast(followers, sseFrame("output", { runId: event.runId, target, phase: place.phase, index: place.index, step, stream, text, offset: place.offset }));
      return;
    }
    if (this.#general.size === 0 && !followers) return;
    const frame = sseFrame("run", withoutOutput(event));
    this.#broadcast(this.#general, frame);
    if (followers) this.#broadcast(followers, frame);
  };

  /** The checks' sink: a check's status changed. */
  readonly check = (state: CheckState): void => {
    if (this.#general.size === 0) return;
    this.#broadcast(this.#general, sseFrame("check", state));
  };

  /**
   * A stream for one client: the general feed, or (with `run`) that run's
   * events and output. It ends when the client leaves, falls too far behind,
   * or the hub closes; undefined when the hub is closed or full.
   */
  subscribe(filter: { run?: string }): Response | undefined {
    if (this.#closed || this.#clients >= this.#maxClients) return undefined;
    const { run } = filter;
    const client = new SseClient({ maxBytes: this.#backlog }, (gone) => this.#remove(gone, run), encoder.encode(`retry: ${RETRY_MS}\n: connected\n\n`));
    if (run === undefined) this.#general.add(client);
    else {
      const set = this.#followers.get(run) ?? new Set();
      set.add(client);
      this.#followers.set(run, set);
    }
    this.#clients++;
    return new Response(client.stream, {
      headers: { ...apiHeaders, "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no" },
    });
  }

  /** Ends every stream and stops the heartbeat (the server stops); nothing is kept after. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const client of [...this.#all()]) client.close();
    this.output.clear();
    this.#live.clear();
  }

  *#all(): Iterable<SseClient> {
    yield* this.#general;
    for (const set of this.#followers.values()) yield* set;
  }

  #broadcast(clients: Set<SseClient>, frame: Uint8Array): void {
    // A client cut off by this frame leaves the set inside send, which a Set's iteration allows.
    for (const client of clients) client.send(frame);
  }

  #remove(client: SseClient, run: string | undefined): void {
    if (run === undefined) {
      if (!this.#general.delete(client)) return;
    } else {
      const set = this.#followers.get(run);
      if (!set?.delete(client)) return;
      if (set.size === 0) this.#followers.delete(run);
    }
    this.#clients--;
  }
}
