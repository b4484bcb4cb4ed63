import type { OpsError } from "../errors.ts";
import type { Phase, PhaseClock, TlsInfo } from "../transport/index.ts";

/** Request details a target may carry; protocols without requests ignore them. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What every probe attempt is given. */
export interface ProbeContext {
  clock: PhaseClock;
  signal: AbortSignal;
  timeoutMs: number;
  insecure: boolean;
  /** PEM text of extra trusted CAs (--ca). */
  ca: string | undefined;
  maxBodyBytes: number;
}

/** What a probe saw; the CEL variables are built from it. */
export interface Observation {
  ip?: string;
  status?: number;
  tls?: TlsInfo;
  http?: { version: string; reason: string; headers: Record<string, string>; bodyBytes: number; truncated: boolean };
  body?: { text: string; json?: unknown };
  dns?: { server: string; rcode: string; question: { name: string; type: string }; answers: DnsAnswer[] };
  grpc?: { service: string; status: GrpcHealthStatus; code: number; message: string };
  ssh?: { banner: string; protoVersion: string; software: string };
}

/**
 * grpc.health.v1 ServingStatus. `code` and `message` are the call's
 * grpc-status and grpc-message; a Check answered NOT_FOUND reads as SERVICE_UNKNOWN.
 */
export type GrpcHealthStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

export interface DnsAnswer {
  name: string;
  type: string;
  ttl: number;
  data: string;
}

/**
 * One protocol. `parse` validates a target URL up front (a bad target is a
 * usage error before anything runs); `run` performs one attempt and throws a
 * PhaseError naming the phase it stopped in. `judge` applies the protocol's
 * own notion of healthy when the user gave no expectations.
 */
export interface Prober<T = unknown> {
  readonly kind: string;
  readonly schemes: readonly string[];
  parse(url: URL, raw: string, request: RequestOptions): T;
  run(target: T, context: ProbeContext): Promise<Observation>;
  judge?(observation: Observation): string | undefined;
}

export type Verdict = "healthy" | "unhealthy" | "down" | "interrupted";

export interface Timings {
  dns?: number;
  connect?: number;
  tls?: number;
  firstByte?: number;
  transfer?: number;
  total: number;
}

export interface ExpectationResult {
  expr: string;
  passed: boolean;
  error?: string;
  /** A false expectation: the values of the names it read, e.g. `status = 503`. */
  actual?: string;
}

export interface Attempt {
  attempt: number;
  startedAt: string;
  verdict: Verdict;
  exitCode: number;
  phase?: Phase;
  reason?: string;
  timings: Timings;
}

export interface ProbeResult extends Observation {
  target: string;
  name: string;
  kind: string;
  labels: Record<string, string>;
  verdict: Verdict;
  exitCode: number;
  /** The phase the final attempt stopped in, when it failed. */
  phase?: Phase;
  reason?: string;
  error?: ReturnType<OpsError["toJSON"]>;
  timings: Timings;
  expectations: ExpectationResult[];
  attempts: Attempt[];
  startedAt: string;
}
