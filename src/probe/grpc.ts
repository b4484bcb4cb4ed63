import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from "node:http2";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { ExitCode, usageError } from "../errors.ts";
import {
  abortError,
  certificateProblem,
  describeCertificate,
  ipFamily,
  openConnection,
  PhaseError,
  resolveHost,
  type Connection,
  type TlsInfo,
} from "../transport/index.ts";
import { bareHost, requirePort } from "./url.ts";
import type { Observation, ProbeContext, Prober, RequestOptions } from "./types.ts";

/**
 * grpc.health.v1 ServingStatus. `code` and `message` are the call's
 * grpc-status and grpc-message; a Check answered NOT_FOUND reads as SERVICE_UNKNOWN.
 */
export type GrpcHealthStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

declare module "./types.ts" {
  interface Observation {
    grpc?: { service: string; status: GrpcHealthStatus; code: number; message: string };
  }
}

export interface GrpcSpec {
  tls: boolean;
  host: string;
  port: number;
  /** SNI and the name the certificate must match (grpcs only). */
  servername: string;
  /** host[:port] as written, for the :authority header. */
  authority: string;
  /** HealthCheckRequest.service; "" asks about the server as a whole. */
  service: string;
  /** Sent as gRPC metadata (lower-case names). */
  metadata: Record<string, string>;
}

const CHECK_PATH = "/grpc.health.v1.Health/Check";
/** A HealthCheckResponse is a few bytes; anything far larger is not one. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** grpc-timeout allows at most 8 digits. */
const MAX_GRPC_TIMEOUT_MS = 99_999_999;

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by wire value. */
const servingStatuses: readonly GrpcHealthStatus[] = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

const grpcCodeNames = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
] as const;
const GRPC_NOT_FOUND = 5;
const GRPC_UNIMPLEMENTED = 12;

/** HTTP status to gRPC code when a proxy or non-gRPC server answers (grpc/doc/http-grpc-status-mapping.md). */
const codeForHttpStatus: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };

/** Names the gRPC protocol owns; sending them as metadata would corrupt the call. */
const reservedMetadata = /^(:|grpc-)|^(content-type|te|user-agent|host|connection)$/;

const noop = () => undefined;

export function parseGrpc(url: URL, raw: string, request: RequestOptions): GrpcSpec {
  if (url.username || url.password) {
    throw usageError("E_TARGET_URL", `target "${raw}" carries credentials in the URL`, "send them as a header (gRPC metadata) from a file target instead");
  }
  const port = requirePort(url, raw);
  let service: string;
  try {
    service = decodeURIComponent(url.pathname.replace(/^\//, ""));
  } catch {
    throw usageError("E_TARGET_URL", `target "${raw}" has a badly escaped service name`, `write the service after the port, e.g. ${url.protocol}//${url.host}/my.package.Service`);
  }
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const key = name.toLowerCase();
    if (reservedMetadata.test(key)) throw usageError("E_GRPC_METADATA", `header "${name}" cannot be sent as gRPC metadata`, "gRPC sets it itself; remove it from this target");
    metadata[key] = value;
  }
  const host = bareHost(url);
  return { tls: url.protocol === "grpcs:", host, port, servername: url.searchParams.get("servername") ?? host, authority: url.host, service, metadata };
}

/**
 * Loaded on a gRPC probe's first attempt, never at startup: in Bun 1.4.5 on a
 * 2-core machine node:http2 takes ~30 ms to load and the protobuf wire codec
 * ~10 ms (node:stream, node:tls and node:net come with http2).
 */
function loadModules() {
  return Promise.all([import("node:http2"), import("node:stream"), import("node:tls"), import("@bufbuild/protobuf/wire")]).then(
    ([http2, stream, tls, wire]) => ({ http2, Duplex: stream.Duplex, tls, wire }),
  );
}
type Modules = Awaited<ReturnType<typeof loadModules>>;

/** What the server sent back on the Check stream. */
interface GrpcReply {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders | undefined;
  body: Buffer;
}

/** Things to destroy when the attempt ends, whatever the outcome. */
type Closers = Array<{ destroy(): void }>;

/** Our Connection as a Duplex, and the transport failure that ended it, if one did. */
interface Transport {
  stream: Duplex;
  failure(): PhaseError | undefined;
}

/**
 * grpc://host:port[/service] (h2c) and grpcs://host:port[/service] (TLS):
 * calls grpc.health.v1.Health/Check, https://github.com/grpc/grpc/blob/master/doc/health-checking.md.
 *
 * Bun's node:http2 client runs over any Duplex handed to it through
 * createConnection, so the connection is our own openConnection: dns and
 * connect are timed and their errors named exactly as for every other
 * protocol. TLS is node:tls over that stream, because gRPC servers require
 * ALPN "h2", which openConnection does not offer.
 */
export const grpcProber: Prober<GrpcSpec> = {
  kind: "grpc",
  schemes: ["grpc", "grpcs"],
  parse: parseGrpc,
  async run(spec, context): Promise<Observation> {
    const { clock, signal } = context;
    // Loaded before the first phase so module evaluation never lands inside a
    // phase's timing; on the first attempt it shows in the total only.
    const modules = await loadModules();
    clock.enter("dns");
    const resolved = await resolveHost(spec.host, signal);
    if (resolved.dnsMs !== undefined) clock.timings.dns = resolved.dnsMs;
    const conn = await openConnection({ address: resolved.address, port: spec.port, clock, signal });
    const closers: Closers = [];
    try {
      const transport = connectionStream(conn, modules.Duplex);
      closers.push(transport.stream);
      let stream: Duplex = transport.stream;
      let tls: TlsInfo | undefined;
      if (spec.tls) {
        const secure = await startTls(transport.stream, spec, context, modules, closers);
        stream = secure.socket;
        tls = secure.info;
      }
      const reply = await callCheck(stream, transport, spec, context, modules, closers);
      return { ip: resolved.address, ...(tls ? { tls } : {}), grpc: readHealth(reply, spec.service, modules.wire) };
    } finally {
      for (const closer of closers.reverse()) closer.destroy();
      conn.close();
    }
  },
  judge(observation) {
    const grpc = observation.grpc;
    if (!grpc) return "no health check response";
    if (grpc.code === GRPC_UNIMPLEMENTED) return "grpc-status 12 UNIMPLEMENTED: server has no health service";
    const name = grpcCodeNames[grpc.code];
    if (grpc.code !== 0) return `grpc-status ${grpc.code}${name ? ` ${name}` : ""}${grpc.message ? `: ${grpc.message}` : ""}`;
    return grpc.status === "SERVING" ? undefined : grpc.status;
  },
  status: (result) => result.grpc?.status,
  scope: {
    variables: { grpc: { fields: { service: "string", status: "string", message: "string" } } },
    values: ({ grpc }) => ({ grpc }),
  },
};

/**
 * Adapts a Connection to the Duplex node:tls and node:http2 expect. A
 * transport failure (reset mid-exchange) is kept so it can be reported as the
 * transport named it, rather than as the HTTP/2 error it turns into.
 */
function connectionStream(conn: Connection, DuplexClass: Modules["Duplex"]): Transport {
  let failure: PhaseError | undefined;
  let pumping = false;
  const stream: Duplex = new DuplexClass({
    read() {
      if (pumping) return;
      pumping = true;
      // Backpressure is ignored: a health response is a few bytes, and callCheck caps what it keeps.
      void (async () => {
        try {
          for (let chunk = await conn.read(); chunk !== null; chunk = await conn.read()) stream.push(chunk);
          stream.push(null);
        } catch (error) {
          if (error instanceof PhaseError) failure = error;
          stream.destroy(error as Error);
        }
      })();
    },
    write(chunk: Buffer, _encoding, callback) {
      conn.write(chunk);
      callback();
    },
    destroy(error, callback) {
      conn.close();
      callback(error);
    },
  });
  stream.on("error", noop);
  return { stream, failure: () => failure };
}

/** Settles through `executor`, or rejects naming the running phase if the signal aborts first. */
function settle<T>(context: ProbeContext, executor: (resolve: (value: T) => void, reject: (error: unknown) => void) => void): Promise<T> {
  const { clock, signal } = context;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, clock.phase));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    const done = () => signal.removeEventListener("abort", onAbort);
    executor(
      (value) => (done(), resolve(value)),
      (error) => (done(), reject(error)),
    );
  });
}

async function startTls(stream: Duplex, spec: GrpcSpec, context: ProbeContext, modules: Modules, closers: Closers): Promise<{ socket: TLSSocket; info: TlsInfo }> {
  const { clock } = context;
  clock.enter("tls");
  const socket = modules.tls.connect({
    socket: stream,
    // RFC 6066 forbids an IP address as SNI.
    ...(ipFamily(spec.servername) ? {} : { servername: spec.servername }),
    ALPNProtocols: ["h2"],
    // Judged below, so a bad certificate is still described and reads as unhealthy, not unreachable.
    rejectUnauthorized: false,
    // node:tls would check an IP target against "localhost" when no SNI is sent.
    checkServerIdentity: (_name, cert) => modules.tls.checkServerIdentity(spec.servername, cert),
    ...(context.ca ? { ca: context.ca } : {}),
  });
  closers.push(socket);
  socket.on("error", noop);
  const hint = "check that the port serves gRPC over TLS; grpc:// is plaintext";
  await settle<void>(context, (resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", (error: Error) => reject(new PhaseError("tls", "E_TLS_HANDSHAKE", `TLS handshake failed: ${error.message}`, { hint, cause: error })));
    socket.once("close", () => reject(new PhaseError("tls", "E_TLS_HANDSHAKE", "TLS handshake failed: connection closed by peer", { hint })));
  });
  clock.finish();
  // node:tls reports its verdict (chain, then host name) as a code string, typed as an Error.
  const verdict = socket.authorizationError as unknown as Error | string | null | undefined;
  const chainError = !verdict ? null : typeof verdict === "string" ? Object.assign(new Error(verdict), { code: verdict }) : verdict;
  // node:tls calls getTLSVersion getProtocol.
  const info = describeCertificate({ peerChain: () => socket.getPeerCertificate(true), session: () => socket.getSession(), getTLSVersion: () => socket.getProtocol(), getCipher: () => socket.getCipher() }, chainError);
  if (!context.insecure) {
    const problem = certificateProblem(info, chainError);
    if (problem) throw new PhaseError("tls", problem.code, problem.message, { hint: problem.hint, exitCode: ExitCode.check });
  }
  if (socket.alpnProtocol !== "h2") {
    throw new PhaseError("tls", "E_GRPC_ALPN", "server did not agree to HTTP/2 (ALPN h2)", { hint });
  }
  return { socket, info };
}

/** HealthCheckRequest in gRPC's length-prefixed framing: a compressed flag, a 4-byte big-endian length, the message. */
function encodeRequest(service: string, wire: Modules["wire"]): Uint8Array {
  const writer = new wire.BinaryWriter();
  if (service) writer.tag(1, wire.WireType.LengthDelimited).string(service);
  const message = writer.finish();
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}

/** An HTTP/2 session over `stream` with the Check call sent on it. */
interface OpenCall {
  session: ClientHttp2Session;
  call: ClientHttp2Stream;
  /** True once the server hung up the connection. */
  peerClosed(): boolean;
}

/**
 * One unary call. The HTTP/2 preface and SETTINGS exchange count as waiting
 * for the first byte; firstByte ends at the response headers, transfer at the
 * trailers (or the stream's end for a Trailers-Only response).
 */
async function callCheck(stream: Duplex, transport: Transport, spec: GrpcSpec, context: ProbeContext, modules: Modules, closers: Closers): Promise<GrpcReply> {
  context.clock.enter("firstByte");
  const open = startCall(stream, transport, spec, context, modules, closers);
  return collectReply(open, transport, context);
}

function startCall(stream: Duplex, transport: Transport, spec: GrpcSpec, context: ProbeContext, modules: Modules, closers: Closers): OpenCall {
  const session = modules.http2.connect(`${spec.tls ? "https" : "http"}://${spec.authority}`, {
    createConnection: () => stream,
    settings: { enablePush: false },
  });
  closers.push(session);
  session.on("error", noop);
  // Bun's http2 client notices a closed net.Socket but not the end of any
  // other Duplex, and would wait for the timeout; so a hang-up ends the session here.
  let peerClosed = false;
  const onPeerClosed = () => {
    peerClosed = true;
    session.destroy();
  };
  transport.stream.once("end", onPeerClosed);
  transport.stream.once("close", onPeerClosed);
  const timeoutMs = Math.min(MAX_GRPC_TIMEOUT_MS, Math.max(1, Math.ceil(context.timeoutMs - context.clock.elapsed())));
  const call = session.request({
    ...spec.metadata,
    ":method": "POST",
    ":path": CHECK_PATH,
    "content-type": "application/grpc",
    te: "trailers",
    "user-agent": "opskit",
    // Lets the server give up when we do.
    "grpc-timeout": `${timeoutMs}m`,
  });
  call.on("error", noop);
  call.end(encodeRequest(spec.service, modules.wire));
  return { session, call, peerClosed: () => peerClosed };
}

function collectReply({ session, call, peerClosed }: OpenCall, transport: Transport, context: ProbeContext): Promise<GrpcReply> {
  const { clock } = context;
  return settle<GrpcReply>(context, (resolve, reject) => {
    let headers: IncomingHttpHeaders | undefined;
    let trailers: IncomingHttpHeaders | undefined;
    const parts: Buffer[] = [];
    let bytes = 0;
    const fail = (code: string, message: string, cause?: unknown) => {
      const hint = "check that the port serves gRPC over HTTP/2 (grpcs:// for TLS)";
      // Ending the session after a hang-up cancels the stream; the hang-up is the news.
      if (peerClosed()) [code, message] = ["E_GRPC_CLOSED", `server closed the connection ${headers ? "in the middle of the response" : "without responding"}`];
      reject(transport.failure() ?? new PhaseError(clock.phase, code, message, { hint, cause }));
    };
    session.once("error", (error: Error) => fail("E_HTTP2", `HTTP/2 session failed: ${error.message}`, error));
    call.once("error", (error: Error) => fail("E_HTTP2", `HTTP/2 stream failed: ${error.message}`, error));
    call.once("response", (received) => {
      clock.finish();
      clock.enter("transfer");
      headers = received;
    });
    call.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_RESPONSE_BYTES) fail("E_GRPC_PROTOCOL", `response exceeds ${MAX_RESPONSE_BYTES} bytes; not a health check response`);
      else parts.push(chunk);
    });
    call.once("trailers", (received) => (trailers = received));
    call.once("close", () => {
      const complete = trailers !== undefined || headers?.["grpc-status"] !== undefined;
      if (!complete && (peerClosed() || call.rstCode)) return fail("E_GRPC_RESET", `server reset the stream (HTTP/2 error ${call.rstCode})`);
      if (!headers) return fail("E_GRPC_CLOSED", "server closed the stream without a response");
      clock.finish();
      resolve({ headers, trailers, body: Buffer.concat(parts) });
    });
  });
}

/** grpc-message is percent-encoded (gRPC over HTTP/2, "Responses"). */
function decodeGrpcMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(", ") : (value ?? "");
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * A Check answered NOT_FOUND is reported as SERVICE_UNKNOWN (what Watch
 * would say for the same service); other failed calls carry no status, so
 * UNKNOWN. The gRPC code and message are kept beside it.
 */
function readHealth(reply: GrpcReply, service: string, wire: Modules["wire"]): NonNullable<Observation["grpc"]> {
  const { headers, trailers } = reply;
  // A Trailers-Only response carries grpc-status in its only header block.
  const statusText = trailers?.["grpc-status"] ?? headers["grpc-status"];
  const message = decodeGrpcMessage(trailers?.["grpc-message"] ?? headers["grpc-message"]);
  const httpStatus = Number(headers[":status"]);
  if (statusText === undefined) {
    if (httpStatus !== 200) return { service, status: "UNKNOWN", code: codeForHttpStatus[httpStatus] ?? 2, message: `HTTP status ${httpStatus}` };
    const type = headers["content-type"] ?? "none";
    throw new PhaseError("transfer", "E_GRPC_PROTOCOL", `response ended without a grpc-status (content-type ${type})`, {
      hint: "check that the port serves gRPC, not plain HTTP/2",
    });
  }
  const code = Number(statusText);
  if (!Number.isInteger(code) || code < 0) throw new PhaseError("transfer", "E_GRPC_PROTOCOL", `bad grpc-status "${String(statusText)}"`);
  if (code !== 0) return { service, status: code === GRPC_NOT_FOUND ? "SERVICE_UNKNOWN" : "UNKNOWN", code, message };
  return { service, status: decodeResponse(reply.body, wire), code, message };
}

/** The ServingStatus in a framed HealthCheckResponse (field 1, an enum); unknown fields are skipped. */
function decodeResponse(body: Buffer, wire: Modules["wire"]): GrpcHealthStatus {
  const malformed = (what: string) => new PhaseError("transfer", "E_GRPC_PROTOCOL", what, { hint: "check that the service at this port is grpc.health.v1.Health" });
  if (body.length < 5) throw malformed("grpc-status OK but no response message");
  // We send no grpc-accept-encoding, so a compliant server never compresses.
  if (body[0] !== 0) throw malformed("response message is compressed, which opskit did not ask for");
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw malformed(`response message truncated: ${body.length - 5} of ${length} bytes`);
  const reader = new wire.BinaryReader(body.subarray(5, 5 + length));
  let value = 0;
  try {
    while (reader.pos < reader.len) {
      const [field, type] = reader.tag();
      if (field === 1 && type === wire.WireType.Varint) value = reader.int32();
      else reader.skip(type);
    }
  } catch (error) {
    throw malformed(`response is not a HealthCheckResponse: ${(error as Error).message}`);
  }
  return servingStatuses[value] ?? "UNKNOWN";
}
