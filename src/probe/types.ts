import type { OpsError } from "../errors.ts";
import type { Expectation, VariableTypes } from "../expr/index.ts";
import type { Phase, PhaseClock, TlsInfo } from "../transport/index.ts";
import type { ProxyRules } from "./proxy.ts";

/** Request details a target may carry; protocols without requests ignore them. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A target as parseTarget made it: its protocol and that protocol's parsed spec. */
export interface ParsedTarget {
  raw: string;
  prober: Prober;
  spec: unknown;
}

/** One target to probe, with what it must satisfy. */
export interface ProbePlan {
  target: ParsedTarget;
  name: string;
  labels: Record<string, string>;
  expectations: Expectation[];
  /** Names the expectations see besides the observation's: a check's `vars`. */
  scope?: Record<string, unknown>;
}

/** A client certificate and its key, PEM text (mTLS). */
export interface ClientCertificate {
  cert: string;
  key: string;
}

export interface ProbeSettings {
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  insecure: boolean;
  ca: string | undefined;
  maxBodyBytes: number;
  /** Follow HTTP redirects, at most this many (curl -L --max-redirs); undefined: report the 3xx itself. */
  redirects?: number;
  /** The HTTP proxies (--proxy, or the environment's); undefined: direct. */
  proxy?: ProxyRules;
  clientCert?: ClientCertificate;
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
  redirects?: number;
  proxy?: ProxyRules;
  clientCert?: ClientCertificate;
}

/**
 * What a probe saw. These fields are shared by several protocols (the
 * transport's TLS details, a numeric status); each prober adds its own field
 * to this interface from its own file (`declare module "./types.ts"`), so the
 * type stays exact without this file knowing every protocol.
 */
export interface Observation {
  ip?: string;
  /** The protocol's numeric status, where it has one (HTTP). */
  status?: number;
  tls?: TlsInfo;
}

/**
 * A protocol's part of the CEL scope an expectation sees. Expectations are
 * compiled once for every kind of target, so every prober's names are
 * declared, and `values` is called with whatever observation a probe made:
 * it reads only its own fields, and a name of another protocol is absent.
 */
export interface ScopePart {
  variables: VariableTypes;
  /** `cel` makes CEL's own values (durations) without this file loading CEL. */
  values(observation: Observation, cel: { duration(ms: number): unknown }): Record<string, unknown>;
}

/**
 * What a workflow step (the http and probe actions) keeps of an
 * observation, in its result's data and as steps.<name>.<field>: JSON
 * values, unlike the scope. `names` lists the fields `data` may return.
 */
export interface StepView {
  names: readonly string[];
  data(observation: Observation): Record<string, unknown>;
}

/**
 * One protocol. `parse` validates a target URL up front (a bad target is a
 * usage error before anything runs); `run` performs one attempt and throws a
 * PhaseError naming the phase it stopped in. `judge` applies the protocol's
 * own notion of healthy when the user gave no expectations. The rest is how
 * its results read: `status` is the short answer in the terminal's status
 * column ("-" when it gives none), `scope` its CEL names, `step` what a
 * workflow step keeps (by default the observation's fields named in `scope`).
 */
export interface Prober<T = unknown> {
  readonly kind: string;
  readonly schemes: readonly string[];
  /**
   * The target URL's query string is code for the server (a PromQL query),
   * not values: a template may not put a value there, where URL encoding
   * keeps it a value of the URL but not of that language. Such a kind has a
   * structured form whose template escape knows the language.
   */
  readonly queryIsCode?: boolean;
  parse(url: URL, raw: string, request: RequestOptions): T;
  run(target: T, context: ProbeContext): Promise<Observation>;
  judge?(observation: Observation): string | undefined;
  status?(result: ProbeResult): string | undefined;
  readonly scope?: ScopePart;
  readonly step?: StepView;
}

export type Verdict = "healthy" | "unhealthy" | "down" | "interrupted";

export interface Timings {
  dns?: number;
  connect?: number;
  /** Through a proxy to an https:// target: the CONNECT round trip. */
  proxy?: number;
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
