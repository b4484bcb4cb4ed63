import type { Socket } from "bun";
import { ExitCode } from "../errors.ts";
import { PhaseClock, PhaseError, abortError } from "./phase.ts";
import { certificateProblem, describeCertificate, type TlsInfo } from "./tls-info.ts";

export interface TlsOptions {
  /** Name sent as SNI and checked against the certificate. */
  servername: string;
  insecure: boolean;
  /** PEM text of extra trusted CAs. */
  ca?: string;
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
  close(): void;
}

interface ConnState {
  chunks: Uint8Array[];
  ended: boolean;
  failure: PhaseError | undefined;
  waiter: ((ok: boolean) => void) | undefined;
  handshake: ((ok: boolean, error: Error | null) => void) | undefined;
  /** Bytes the kernel did not take yet; Bun's write() does not buffer them for us. */
  unsent: Uint8Array | undefined;
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

/**
 * Opens a fresh TCP connection (and TLS over it when asked), timing the
 * connect and TLS phases separately. Never reuses a connection: a health
 * probe must exercise connection setup.
 */
export async function openConnection(options: ConnectOptions): Promise<Connection> {
  const { clock, signal } = options;
  const state: ConnState = { chunks: [], ended: false, failure: undefined, waiter: undefined, handshake: undefined, unsent: undefined };
  const notify = () => {
    const waiter = state.waiter;
    state.waiter = undefined;
    waiter?.(true);
  };
  const fail = (failure: PhaseError) => {
    state.failure ??= failure;
    notify();
  };

  clock.enter("connect");
  if (signal.aborted) throw abortError(signal, "connect");
  let socket: Socket<undefined> | undefined;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      const failure = abortError(signal, clock.phase);
      fail(failure);
      socket?.end();
      reject(failure);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  const cleanup = () => {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  };

  const tlsOptions = options.tls;
  const connecting = Bun.connect({
    hostname: options.address,
    port: options.port,
    tls: tlsOptions
      ? {
          serverName: tlsOptions.servername,
          rejectUnauthorized: false,
          ...(tlsOptions.ca ? { ca: tlsOptions.ca } : {}),
        }
      : undefined,
    socket: {
      open() {
        clock.finish();
        if (tlsOptions) clock.enter("tls");
      },
      handshake(_s, _ok, error) {
        state.handshake?.(true, error);
      },
      drain(socket) {
        if (state.unsent) state.unsent = writeSome(socket, state.unsent);
      },
      data(_s, chunk) {
        state.chunks.push(chunk);
        notify();
      },
      end() {
        state.ended = true;
        notify();
      },
      close(_s, error) {
        if (error) fail(socketFailure(clock, error));
        state.ended = true;
        state.handshake?.(false, null);
        notify();
      },
      error(_s, error) {
        fail(socketFailure(clock, error));
      },
      connectError(_s, error) {
        fail(socketFailure(clock, error));
      },
    },
  });

  try {
    socket = await Promise.race([connecting, aborted]);
  } catch (error) {
    cleanup();
    connecting.then((late) => late.end(), () => undefined);
    if (error instanceof PhaseError) throw error;
    throw state.failure ?? socketFailure(clock, error as Error);
  }

  let tls: TlsInfo | undefined;
  if (tlsOptions) {
    try {
      tls = await awaitHandshake(state, socket, tlsOptions, clock, aborted);
    } catch (error) {
      cleanup();
      socket.end();
      throw error;
    }
  }

  const opened = socket;
  return {
    tls,
    write(data) {
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      if (state.unsent) state.unsent = Buffer.concat([state.unsent, bytes]);
      else state.unsent = writeSome(opened, bytes);
    },
    async read() {
      while (true) {
        const chunk = state.chunks.shift();
        if (chunk) return chunk;
        if (state.failure) throw state.failure;
        if (state.ended) return null;
        await new Promise<boolean>((resolve) => (state.waiter = resolve));
      }
    },
    close() {
      cleanup();
      opened.end();
    },
  };
}

/** Writes what the socket takes now and returns the rest, for the drain handler. */
function writeSome(socket: Socket<undefined>, bytes: Uint8Array): Uint8Array | undefined {
  const written = socket.write(bytes);
  return written >= bytes.length ? undefined : bytes.subarray(Math.max(0, written));
}

async function awaitHandshake(
  state: ConnState,
  socket: Socket<undefined>,
  options: TlsOptions,
  clock: PhaseClock,
  aborted: Promise<never>,
): Promise<TlsInfo> {
  const outcome = await Promise.race([
    new Promise<{ ok: boolean; error: Error | null }>((resolve) => {
      state.handshake = (ok, error) => resolve({ ok, error });
      if (state.failure || state.ended) resolve({ ok: false, error: null });
    }),
    aborted,
  ]);
  state.handshake = undefined;
  // Bun reports protocol failures through the same callback as certificate
  // problems; a handshake that produced no peer certificate did not complete.
  const cert = outcome.ok ? socket.getPeerCertificate() : undefined;
  if (!cert || Object.keys(cert).length === 0) {
    const why = outcome.error?.message ?? state.failure?.message ?? "connection closed by peer";
    throw new PhaseError("tls", "E_TLS_HANDSHAKE", `TLS handshake failed: ${why}`, {
      hint: "check that the port speaks TLS, and the protocol versions and ciphers it accepts",
    });
  }
  clock.finish();
  const info = describeCertificate(socket, outcome.error);
  if (!options.insecure) {
    const problem = certificateProblem(info, outcome.error);
    if (problem) throw new PhaseError("tls", problem.code, problem.message, { hint: problem.hint, exitCode: ExitCode.check });
  }
  return info;
}
