import type { Socket, SocketHandler } from "bun";
import { ExitCode } from "../errors.ts";
import { PhaseClock, PhaseError, abortError } from "./phase.ts";
import { certificateProblem, describeCertificate, type TlsInfo } from "./tls-info.ts";

export interface TlsOptions {
  /** Name sent as SNI and checked against the certificate. */
  servername: string;
  insecure: boolean;
  /** PEM text of extra trusted CAs. */
  ca?: string;
  /** PEM text of a client certificate and its key, for servers that ask for one (mTLS). */
  cert?: string;
  key?: string;
}

export interface ConnectOptions {
  address: string;
  port: number;
  tls?: TlsOptions;
  clock: PhaseClock;
  signal: AbortSignal;
}

export interface Connection {
  readonly tls: TlsInfo | undefined;
  write(data: string | Uint8Array): void;
  /** The next chunk the peer sent, or null once it closed its side. */
  read(): Promise<Uint8Array | null>;
  /**
   * Hands every chunk to `framer` as it arrives, in the socket's own data
   * handler, until the framer has the whole reply: one promise for a reply
   * rather than one per chunk. Rejects with the framer's error or the
   * connection's failure. Chunks not read yet go to the framer first.
   */
  frame<T>(framer: Framer<T>): Promise<T>;
  close(): void;
}

/** Cuts one reply out of a stream of chunks (an HTTP response, for one). */
export interface Framer<T> {
  /** Takes the next chunk; the reply once it is complete. Throws for a malformed reply. */
  push(chunk: Uint8Array): T | undefined;
  /** The peer closed its side: the reply as far as it goes, or an error. */
  end(): T;
}

interface Framing {
  framer: Framer<unknown>;
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

/**
 * One connection and everything it needs, kept in socket.data: the socket
 * handlers below are one shared object for all connections, and the
 * connection's methods (and its abort listener, handleEvent) sit on the
 * prototype, so ten thousand probes in flight do not carry ten thousand sets
 * of closures, and a probe of a fast endpoint does not spend its time
 * allocating them.
 */
class ConnState implements Connection, EventListenerObject {
  socket: Socket<ConnState> | undefined = undefined;
  tls: TlsInfo | undefined = undefined;
  chunks: Uint8Array[] = [];
  ended = false;
  failure: PhaseError | undefined = undefined;
  /** Woken by data, end, close, failure and abort. */
  waiter: (() => void) | undefined = undefined;
  /** Set once TLS finished (or failed) its handshake. */
  handshake: { ok: boolean; error: Error | null } | undefined = undefined;
  /** Bytes the kernel did not take yet; Bun's write() does not buffer them for us. */
  unsent: Uint8Array | undefined = undefined;
  /** Set while frame() waits for a reply. */
  framing: Framing | undefined = undefined;
  /** The plain connection under this one, when TLS was started over it (through a proxy's tunnel). */
  under: ConnState | undefined = undefined;
  /** This plain connection now carries TLS for another state: its own data is ciphertext, not for its readers. */
  upgraded = false;

  constructor(
    readonly clock: PhaseClock,
    readonly signal: AbortSignal,
    readonly wantsTls: boolean,
  ) {}

  /** The signal aborted (timeout or interrupt). */
  handleEvent(): void {
    fail(this, abortError(this.signal, this.clock.phase));
    this.socket?.end();
  }

  /** Stops listening to the signal; always called, by close() or a failed open. */
  release(): void {
    this.signal.removeEventListener("abort", this);
  }

  write(data: string | Uint8Array): void {
    const socket = this.socket!;
    if (this.unsent) this.unsent = Buffer.concat([this.unsent, typeof data === "string" ? Buffer.from(data) : data]);
    else if (typeof data !== "string") this.unsent = writeSome(socket, data);
    else {
      // Most requests fit the socket buffer whole: write the text as it is, encode only a remainder.
      const written = socket.write(data);
      if (written < Buffer.byteLength(data)) this.unsent = Buffer.from(data).subarray(Math.max(0, written));
    }
  }

  async read(): Promise<Uint8Array | null> {
    while (true) {
      const chunk = this.chunks.shift();
      if (chunk) return chunk;
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await nextEvent(this);
    }
  }

  frame<T>(framer: Framer<T>): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const framing: Framing = { framer, resolve: resolve as (reply: unknown) => void, reject };
    this.framing = framing;
    while (this.framing && this.chunks.length > 0) feed(this, framing, this.chunks.shift()!);
    if (this.framing) {
      if (this.failure) fail(this, this.failure);
      else if (this.ended) feed(this, framing, null);
    }
    return promise;
  }

  close(): void {
    this.release();
    // The peer already closed (HTTP with Connection: close): no need for a graceful end.
    if (this.ended) this.socket!.terminate();
    else this.socket!.end();
    this.under?.socket?.end();
  }
}

const connectCodes: Record<string, [string, string]> = {
  ECONNREFUSED: ["E_CONN_REFUSED", "connection refused"],
  ECONNRESET: ["E_CONN_RESET", "connection reset"],
  ETIMEDOUT: ["E_TIMEOUT", "timed out"],
  EHOSTUNREACH: ["E_HOST_UNREACHABLE", "host unreachable"],
  ENETUNREACH: ["E_NET_UNREACHABLE", "network unreachable"],
  EADDRNOTAVAIL: ["E_ADDR_NOT_AVAILABLE", "address not available"],
};

function socketFailure(clock: PhaseClock, error: Error): PhaseError {
  const code = (error as { code?: string }).code ?? "";
  const known = connectCodes[code];
  if (known) return new PhaseError(clock.phase, known[0], known[1], { cause: error });
  return new PhaseError(clock.phase, "E_SOCKET", error.message || code || "socket error", { cause: error });
}

function wake(state: ConnState): void {
  const waiter = state.waiter;
  state.waiter = undefined;
  waiter?.();
}

function fail(state: ConnState, failure: PhaseError): void {
  state.failure ??= failure;
  const framing = state.framing;
  state.framing = undefined;
  framing?.reject(state.failure);
  wake(state);
}

/** Feeds a chunk, or the end of the stream (null), to the framer; settles once it has the reply or fails. */
function feed(state: ConnState, framing: Framing, chunk: Uint8Array | null): void {
  try {
    const reply = chunk === null ? framing.framer.end() : framing.framer.push(chunk);
    if (reply === undefined) return;
    state.framing = undefined;
    framing.resolve(reply);
  } catch (error) {
    state.framing = undefined;
    framing.reject(error);
  }
}

/**
 * Waits until something happens on the connection (data, end, failure,
 * handshake). Promise.withResolvers rather than new Promise(executor): the
 * latter's first call costs a probe's startup a tenth of a millisecond.
 */
function nextEvent(state: ConnState): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  state.waiter = resolve;
  return promise;
}

/** Writes what the socket takes now and returns the rest, for the drain handler. */
function writeSome(socket: Socket<ConnState>, bytes: Uint8Array): Uint8Array | undefined {
  const written = socket.write(bytes);
  return written >= bytes.length ? undefined : bytes.subarray(Math.max(0, written));
}

const handlers: SocketHandler<ConnState> = {
  open(socket) {
    const state = socket.data;
    state.socket = socket;
    // Opened after an abort or failure: nobody is waiting for it any more.
    if (state.failure) return void socket.end();
    // TLS started over a tunnel: the clock is already in the tls phase.
    if (state.under) return wake(state);
    state.clock.finish();
    if (state.wantsTls) state.clock.enter("tls");
    wake(state);
  },
  handshake(socket, ok, error) {
    socket.data.handshake = { ok, error };
    wake(socket.data);
  },
  drain(socket) {
    const state = socket.data;
    if (state.unsent) state.unsent = writeSome(socket, state.unsent);
  },
  data(socket, chunk) {
    const state = socket.data;
    if (state.upgraded) return;
    if (state.framing) return feed(state, state.framing, chunk);
    state.chunks.push(chunk);
    wake(state);
  },
  end(socket) {
    const state = socket.data;
    state.ended = true;
    if (state.framing) feed(state, state.framing, null);
    wake(state);
  },
  close(socket, error) {
    const state = socket.data;
    if (error) fail(state, socketFailure(state.clock, error));
    state.ended = true;
    state.handshake ??= { ok: false, error: null };
    if (state.framing) feed(state, state.framing, null);
    wake(state);
  },
  error(socket, error) {
    fail(socket.data, socketFailure(socket.data.clock, error));
  },
  connectError(socket, error) {
    fail(socket.data, socketFailure(socket.data.clock, error));
  },
};

/**
 * Opens a fresh TCP connection (and TLS over it when asked), timing the
 * connect and TLS phases separately. Never reuses a connection: a health
 * probe must exercise connection setup.
 */
export async function openConnection(options: ConnectOptions): Promise<Connection> {
  const { clock, signal } = options;
  clock.enter("connect");
  if (signal.aborted) throw abortError(signal, "connect");
  const tlsOptions = options.tls;
  const state = new ConnState(clock, signal, tlsOptions !== undefined);
  // Removed by release(), always: { once } would only cost more to add.
  signal.addEventListener("abort", state);
  Bun.connect<ConnState>({
    hostname: options.address,
    port: options.port,
    data: state,
    tls: tlsOptions ? tlsConfig(tlsOptions) : undefined,
    socket: handlers,
  }).then(undefined, (error: Error) => fail(state, socketFailure(clock, error)));

  try {
    while (!state.socket && !state.failure) await nextEvent(state);
    if (state.failure) throw state.failure;
    if (tlsOptions) state.tls = await awaitHandshake(state, state.socket!, tlsOptions);
    return state;
  } catch (error) {
    state.release();
    state.socket?.end();
    throw error;
  }
}

function tlsConfig(options: TlsOptions) {
  return {
    serverName: options.servername,
    rejectUnauthorized: false,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.cert ? { cert: options.cert, key: options.key } : {}),
  };
}

/**
 * Starts TLS over an open plain connection (a proxy's CONNECT tunnel), timed
 * as the tls phase. The plain connection is the returned one's to close.
 */
export async function upgradeConnection(conn: Connection, options: TlsOptions): Promise<Connection> {
  const plain = conn as ConnState;
  const { clock, signal } = plain;
  plain.release();
  plain.upgraded = true;
  clock.enter("tls");
  const state = new ConnState(clock, signal, true);
  state.under = plain;
  signal.addEventListener("abort", state);
  try {
    if (signal.aborted) throw abortError(signal, "tls");
    const [, secure] = plain.socket!.upgradeTLS<ConnState>({ data: state, tls: tlsConfig(options), socket: handlers });
    state.socket ??= secure;
    state.tls = await awaitHandshake(state, state.socket, options);
    return state;
  } catch (error) {
    state.release();
    state.socket?.end();
    plain.socket?.end();
    throw error;
  }
}

async function awaitHandshake(state: ConnState, socket: Socket<ConnState>, options: TlsOptions): Promise<TlsInfo> {
  while (!state.handshake && !state.failure) await nextEvent(state);
  // An abort or timeout during the handshake fails in the tls phase.
  if (state.failure && (state.failure.code === "E_TIMEOUT" || state.failure.code === "E_INTERRUPTED")) throw state.failure;
  const outcome = state.handshake ?? { ok: false, error: null };
  // Bun reports protocol failures through the same callback as certificate
  // problems; a handshake that produced no peer certificate did not complete.
  const cert = outcome.ok || outcome.error ? socket.getPeerCertificate() : undefined;
  if (!cert || Object.keys(cert).length === 0) {
    const why = outcome.error?.message ?? state.failure?.message ?? "connection closed by peer";
    throw new PhaseError("tls", "E_TLS_HANDSHAKE", `TLS handshake failed: ${why}`, {
      hint: "check that the port speaks TLS, and the protocol versions and ciphers it accepts",
    });
  }
  state.clock.finish();
  // Bun's own flag means "abbreviated": false links the issuers (its types declare neither the flag nor the session's bytes).
  const peer = socket as unknown as { getPeerCertificate(abbreviated: boolean): object | undefined; getSession(): Uint8Array | undefined };
  const info = describeCertificate({ peerChain: () => peer.getPeerCertificate(false), session: () => peer.getSession(), getTLSVersion: () => socket.getTLSVersion(), getCipher: () => socket.getCipher() }, outcome.error);
  if (!options.insecure) {
    const problem = certificateProblem(info, outcome.error);
    if (problem) throw new PhaseError("tls", problem.code, problem.message, { hint: problem.hint, exitCode: ExitCode.check });
  }
  return info;
}
