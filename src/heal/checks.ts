import type { Check } from "../config/index.ts";
import { ExitCode, OpsError, configError, isOpsError } from "../errors.ts";
import { Slots } from "../engine/index.ts";
import { compileExpectations, compileTemplate } from "../expr/index.ts";
import { promqlTargetOf } from "../actions/index.ts";
import { clientSettings, expectationVariables, parseTarget, proberOfTarget, promqlTargetUrl, runProbe, type ProbePlan, type ProbeResult, type ProbeSettings } from "../probe/index.ts";
import { redact } from "../observe/index.ts";
import { parseDuration } from "../time/index.ts";
import { alertFingerprint, type Alert } from "./alert.ts";

/** What a check looks like right now: for the API, the metrics and the dashboard. */
export interface CheckState {
  name: string;
  status: "unknown" | "passing" | "failing" | "firing";
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Epoch ms the last probe started. */
  lastRunAt?: number;
  /** Why the last probe failed; absent when it passed. */
  lastError?: string;
  lastDurationMs?: number;
  /** The last probe's phases in ms (dns, connect, proxy, tls, firstByte, transfer) and its total. */
  lastTimings?: Record<string, number>;
  /** Epoch ms the first certificate of the chain the last probe saw expires, the server's own or an intermediate (TLS targets). */
  tlsNotAfter?: number;
  /** Epoch ms of the first failing probe of the streak that fired. */
  firingSince?: number;
  /** Among replicas sharing the checks: whether this one runs it now (the others show it unknown). */
  owned?: boolean;
}

/** One probe result of a check, for its uptime bar and response-time sparkline. */
export interface CheckResultPoint {
  /** Epoch ms the probe started. */
  at: number;
  ok: boolean;
  durationMs: number;
}

/** A check as the dashboard shows it: its state, what it probes, and its recent results. */
export interface CheckDetail extends CheckState {
  /** The prober's kind (http, tcp, dns, …). */
  kind: string;
  /** The probe target as configured, without the userinfo a URL may carry and with registered secrets masked. */
  target: string;
  labels: Record<string, string>;
  /** The check's `group` label, if it has one. */
  group?: string;
  intervalMs: number;
  /** The last HISTORY_SIZE results run here, oldest first. */
  history: CheckResultPoint[];
  /** The share of those that passed (0 to 1); absent before the first. */
  uptime?: number;
}

export interface CheckScheduler {
  states(): CheckState[];
  /** Each check with what it probes and its recent results (the dashboard's health grid). */
  details(): CheckDetail[];
  /** Cancels the timers, aborts probes in flight, and resolves once they have finished. */
  stop(): Promise<void>;
}

export interface CheckOptions {
  /** Probes in flight at once, across all checks. */
  concurrency: number;
  emit(alert: Alert): void;
  /** Names a config path (file:line:col) for error messages. */
  where(path: (string | number)[]): string;
  /** Wall clock for alert times; scheduling uses the monotonic clock. */
  now?: () => number;
  /**
   * Whether this replica runs the check now (it holds the check's lease):
   * several replicas share the checks, each run by one. Default: all here.
   */
  owns?: (check: string) => boolean;
  /**
   * When a check becomes this replica's: since when its alert has been
   * firing, as the journal has it (raised by the replica that ran it before),
   * so that its recovery resolves that episode instead of nobody's.
   */
  resume?: (fingerprint: string) => Promise<number | undefined>;
  /** A check's status changed (unknown, passing, failing, firing) after a probe here. */
  onState?: (state: CheckState) => void;
  /** The config's vars (after --env): a check's probe names them in templates ({{ vars.endpoint }}), its expect in CEL (vars.maxBytes). */
  vars?: Record<string, unknown>;
  /** Where a check's TLS files are found (the config's directory); default the working directory. */
  baseDir?: string;
}

/**
 * A firing check repeats its alert on every 10th failing probe: often enough
 * to make good a lost notification, rarely enough not to flood the journal.
 */
const REPEAT_EVERY = 10;
const MAX_DEFAULT_TIMEOUT_MS = 10_000;
/** Results each check keeps for its history (an hour at a minute's interval, 5 minutes at 5 s). */
export const HISTORY_SIZE = 60;

interface CompiledCheck {
  check: Check;
  plan: ProbePlan;
  settings: ProbeSettings;
  intervalMs: number;
  labels: Record<string, string>;
  fingerprint: string;
  /** The target as shown: userinfo stripped, secrets masked. */
  shown: string;
}

/**
 * A probe target as it may be shown: a URL's userinfo (user:password@) cut
 * out, and any registered secret masked. Everything else is as configured.
 */
export function shownTarget(raw: string): string {
  return redact(raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1"));
}

/** The last HISTORY_SIZE results in a ring: each result costs the same, however long the server runs. */
class ResultRing {
  readonly #at = new Float64Array(HISTORY_SIZE);
  readonly #duration = new Float64Array(HISTORY_SIZE);
  readonly #ok = new Uint8Array(HISTORY_SIZE);
  #next = 0;
  #count = 0;
  #passed = 0;

  push(at: number, ok: boolean, durationMs: number): void {
    if (this.#count === HISTORY_SIZE) this.#passed -= this.#ok[this.#next]!;
    else this.#count++;
    this.#at[this.#next] = at;
    this.#duration[this.#next] = durationMs;
    this.#ok[this.#next] = ok ? 1 : 0;
    this.#passed += ok ? 1 : 0;
    this.#next = (this.#next + 1) % HISTORY_SIZE;
  }

  points(): CheckResultPoint[] {
    const out: CheckResultPoint[] = [];
    const first = (this.#next - this.#count + HISTORY_SIZE) % HISTORY_SIZE;
    for (let i = 0; i < this.#count; i++) {
      const slot = (first + i) % HISTORY_SIZE;
      out.push({ at: this.#at[slot]!, ok: this.#ok[slot] === 1, durationMs: this.#duration[slot]! });
    }
    return out;
  }

  uptime(): number | undefined {
    return this.#count === 0 ? undefined : this.#passed / this.#count;
  }
}

/**
 * A compile error as a config error (exit 65), with the config path in front
 * unless the message already starts with one.
 */
function atPath(where: string | undefined, error: unknown): unknown {
  if (!isOpsError(error)) return error;
  const message = where === undefined || error.message.startsWith(where) ? error.message : `${where}: ${error.message}`;
  return new OpsError({ code: error.code, message, hint: error.hint, exitCode: ExitCode.config, cause: error });
}

function positiveDuration(text: string, where: string): number {
  let ms: number;
  try {
    ms = parseDuration(text, "duration");
  } catch (error) {
    throw atPath(where, error);
  }
  if (!(ms > 0)) throw configError("E_CONFIG_DURATION", `${where}: "${text}" must be longer than zero`, 'e.g. "30s"');
  return ms;
}

/** The probe target with the config's vars filled in, each escaped for its place in the URL. */
async function renderProbe(probe: string, where: string, vars: Record<string, unknown>): Promise<string> {
  if (!probe.includes("{{")) return probe;
  const question = probe.indexOf("?");
  if (proberOfTarget(probe)?.queryIsCode && question >= 0 && probe.indexOf("{{", question) >= 0) {
    throw configError("E_TEMPLATE_UNSAFE", `${where}: a {{ }} in the query of a promql+http(s) target would be read as PromQL, not as a value`, "use the check's promql: form, whose query escapes values for PromQL");
  }
  const template = await compileTemplate(probe, where, ["vars"], "url");
  return template.render({ vars }, "url");
}

/** A check's promql: as the promql+http(s) target it probes, its url and query filled from the config's vars (the query's values escaped for PromQL). */
async function renderPromql(spec: NonNullable<Check["promql"]>, at: (...path: string[]) => string, vars: Record<string, unknown>): Promise<string> {
  const url = await compileTemplate(spec.url, at("url"), ["vars"], "url");
  const query = await compileTemplate(spec.query, at("query"), ["vars"], "promql");
  try {
    return promqlTargetUrl(promqlTargetOf(spec, url.render({ vars }, "url"), query.render({ vars }, "promql")));
  } catch (error) {
    throw atPath(at(), error);
  }
}

async function compileCheck(check: Check, index: number, where: CheckOptions["where"], vars: Record<string, unknown> = {}, baseDir = process.cwd()): Promise<CompiledCheck> {
  const at = (...path: (string | number)[]) => where(["checks", index, ...path]);
  const intervalMs = positiveDuration(check.interval, at("interval"));
  const timeout = check.timeout ?? check.promql?.timeout;
  const timeoutMs = timeout === undefined ? Math.min(intervalMs, MAX_DEFAULT_TIMEOUT_MS) : positiveDuration(timeout, check.timeout === undefined ? at("promql", "timeout") : at("timeout"));
  let target: ProbePlan["target"];
  let probe: string;
  const key = check.promql ? "promql" : "probe";
  try {
    probe = check.promql ? await renderPromql(check.promql, (...path) => at("promql", ...path), vars) : await renderProbe(check.probe!, at("probe"), vars);
  } catch (error) {
    // A promql: error names its own key (promql.query, promql.url) already.
    throw atPath(check.promql ? undefined : at("probe"), error);
  }
  try {
    target = parseTarget(probe, at(key));
  } catch (error) {
    throw atPath(at(key), error);
  }
  const listed = Array.isArray(check.expect);
  const sources = check.expect === undefined ? [] : Array.isArray(check.expect) ? check.expect : [check.expect];
  const expectAt = (i: number) => (listed ? at("expect", i) : at("expect"));
  let expectations: ProbePlan["expectations"];
  try {
    expectations = await compileExpectations(sources, expectAt, { ...expectationVariables, vars: "dyn" });
  } catch (error) {
    // compileExpectations starts its messages with expectAt(i) already.
    throw atPath(undefined, error);
  }
  const labels = { alertname: check.name, check: check.name, ...check.labels };
  const base: ProbeSettings = { timeoutMs, retries: 0, retryDelayMs: 0, insecure: false, ca: undefined, maxBodyBytes: 1 << 20 };
  return {
    check,
    plan: { target, name: check.name, labels: check.labels, expectations, scope: { vars } },
    settings: await clientSettings(check, base, baseDir, (...path) => at(...path)),
    intervalMs,
    labels,
    fingerprint: alertFingerprint(labels),
    shown: shownTarget(probe),
  };
}

function describeFailure(result: ProbeResult): string {
  return result.reason ?? result.error?.message ?? result.verdict;
}

/** The thresholds of one check: probe results in, the alerts to emit out. No timers here. */
class CheckTracker {
  readonly state: CheckState;
  /** When the current run of failures (or successes) began. */
  #failingSince = 0;
  #passingSince = 0;
  #failuresWhileFiring = 0;
  #firingAnnotations: Record<string, string> = {};

  constructor(private readonly compiled: CompiledCheck) {
    this.state = { name: compiled.check.name, status: "unknown", consecutiveFailures: 0, consecutiveSuccesses: 0 };
  }

  /** Takes over an alert another run of this check raised (firing since `since`): its failures repeat it, its recovery resolves it. */
  adopt(since: number): void {
    this.state.status = "firing";
    this.state.firingSince = since;
    this.#failingSince = since;
    this.#failuresWhileFiring = 0;
    this.#firingAnnotations = { ...this.compiled.check.annotations };
  }

  /** Applies one probe result, whose probe started at `at`; returns the alert to emit, if any. */
  record(result: ProbeResult, at: number): Alert | undefined {
    this.state.lastRunAt = at;
    this.state.lastDurationMs = result.timings.total;
    const timings: Record<string, number> = {};
    for (const [phase, ms] of Object.entries(result.timings)) if (ms !== undefined) timings[phase] = ms;
    this.state.lastTimings = timings;
    const notAfter = result.tls?.notAfter ? Date.parse(result.tls.chainNotAfter || result.tls.notAfter) : Number.NaN;
    if (Number.isFinite(notAfter)) this.state.tlsNotAfter = notAfter;
    else delete this.state.tlsNotAfter;
    return result.verdict === "healthy" ? this.#pass(at) : this.#fail(describeFailure(result), at);
  }

  #fail(reason: string, at: number): Alert | undefined {
    const state = this.state;
    state.consecutiveSuccesses = 0;
    state.consecutiveFailures++;
    state.lastError = reason;
    if (state.consecutiveFailures === 1) this.#failingSince = at;
    if (state.status === "firing") {
      this.#failuresWhileFiring++;
      return this.#failuresWhileFiring % REPEAT_EVERY === 0 ? this.#firing(reason) : undefined;
    }
    if (state.consecutiveFailures < this.compiled.check.failureThreshold) {
      state.status = "failing";
      return undefined;
    }
    state.status = "firing";
    state.firingSince = this.#failingSince;
    this.#failuresWhileFiring = 0;
    return this.#firing(reason);
  }

  #pass(at: number): Alert | undefined {
    const state = this.state;
    state.consecutiveFailures = 0;
    state.consecutiveSuccesses++;
    delete state.lastError;
    if (state.consecutiveSuccesses === 1) this.#passingSince = at;
    if (state.status !== "firing") {
      state.status = "passing";
      return undefined;
    }
    if (state.consecutiveSuccesses < this.compiled.check.successThreshold) return undefined;
    const startsAt = state.firingSince!;
    state.status = "passing";
    delete state.firingSince;
    return { ...this.#alert("resolved", startsAt, this.#firingAnnotations), endsAt: this.#passingSince };
  }

  #firing(reason: string): Alert {
    const { check, plan } = this.compiled;
    const summary = `${check.name}: ${plan.target.raw} failed ${this.state.consecutiveFailures} times in a row: ${reason}`;
    this.#firingAnnotations = { summary, ...check.annotations };
    return this.#alert("firing", this.state.firingSince!, this.#firingAnnotations);
  }

  #alert(status: Alert["status"], startsAt: number, annotations: Record<string, string>): Alert {
    return { source: "check", fingerprint: this.compiled.fingerprint, status, labels: { ...this.compiled.labels }, annotations: { ...annotations }, startsAt };
  }
}

interface Runner {
  compiled: CompiledCheck;
  tracker: CheckTracker;
  /** Not this replica's to run (another holds it), or not yet run since it became so: the next run here starts afresh. */
  dormant: boolean;
  /** Results run here, across changes of owner. */
  history: ResultRing;
  /** Monotonic ms (performance.now) of the next run. */
  dueAt: number;
  timer?: ReturnType<typeof setTimeout>;
  running?: Promise<void>;
}

/**
 * Starts opskit's own checks: each probes its target every `interval` and
 * raises and resolves an alert through `emit` by its failure and success
 * thresholds. Everything is compiled first, so a bad check fails here naming
 * its config path. Checks are spread over their interval and all probes share
 * one bounded pool; a check never overlaps itself, and a run that is late
 * skips to the next tick rather than bunching up.
 */
export async function startChecks(checks: Check[], options: CheckOptions): Promise<CheckScheduler> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new RangeError(`check concurrency must be a positive integer, got ${options.concurrency}`);
  }
  const compiled: CompiledCheck[] = [];
  // One at a time, so the error reported is the first check's in config order.
  for (const [i, check] of checks.entries()) compiled.push(await compileCheck(check, i, options.where, options.vars, options.baseDir));

  const now = options.now ?? Date.now;
  const slots = new Slots(options.concurrency);
  const controller = new AbortController();
  const signal = controller.signal;

  const deliver = (alert: Alert) => {
    try {
      options.emit(alert);
    } catch {
      // The receiver's failure is its own to report; the checks keep running.
    }
  };

  const mine = (runner: Runner) => options.owns?.(runner.compiled.check.name) ?? true;
  const stateOf = (runner: Runner): CheckState => ({ ...runner.tracker.state, ...(options.owns ? { owned: mine(runner) } : {}) });
  const changed = (runner: Runner) => {
    try {
      options.onState?.(stateOf(runner));
    } catch {
      // The listener's failure is its own; the checks keep running.
    }
  };
  /** Whether the check runs here now; one that just became this replica's starts afresh, from the journal's alert. */
  const owned = async (runner: Runner): Promise<boolean> => {
    if (!mine(runner)) {
      if (!runner.dormant) runner.tracker = new CheckTracker(runner.compiled);
      runner.dormant = true;
      return false;
    }
    if (runner.dormant) {
      runner.dormant = false;
      runner.tracker = new CheckTracker(runner.compiled);
      const since = await options.resume?.(runner.compiled.fingerprint).catch(() => undefined);
      if (since !== undefined) runner.tracker.adopt(since);
    }
    return true;
  };

  const probe = async (runner: Runner) => {
    try {
      await slots.acquire(signal);
    } catch {
      return; // stopped while waiting for a slot
    }
    try {
      if (signal.aborted || !(await owned(runner))) return;
      const startedAt = now();
      const result = await runProbe(runner.compiled.plan, runner.compiled.settings, signal);
      // Lost while probing: the new owner reports from its own probes.
      if (signal.aborted || result.verdict === "interrupted" || !mine(runner)) return;
      const before = runner.tracker.state.status;
      const alert = runner.tracker.record(result, startedAt);
      runner.history.push(startedAt, result.verdict === "healthy", result.timings.total);
      if (alert) deliver(alert);
      if (runner.tracker.state.status !== before) changed(runner);
    } catch (error) {
      runner.tracker.state.lastError = `internal error: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      slots.release();
    }
  };

  const arm = (runner: Runner) => {
    runner.timer = setTimeout(() => {
      runner.timer = undefined;
      runner.running = probe(runner).finally(() => {
        runner.running = undefined;
        if (signal.aborted) return;
        // The next tick after now: a probe that overran its interval skips the ticks it missed.
        const t = performance.now();
        runner.dueAt += runner.compiled.intervalMs * Math.max(1, Math.ceil((t - runner.dueAt) / runner.compiled.intervalMs));
        arm(runner);
      });
    }, Math.max(0, runner.dueAt - performance.now()));
  };

  const origin = performance.now();
  const runners: Runner[] = compiled.map((c, i) => ({
    compiled: c,
    tracker: new CheckTracker(c),
    dormant: options.resume !== undefined,
    history: new ResultRing(),
    dueAt: origin + (c.intervalMs * i) / compiled.length,
  }));
  for (const runner of runners) arm(runner);

  return {
    states: () => runners.map(stateOf),
    details: () =>
      runners.map((r): CheckDetail => {
        const { check, plan, intervalMs, shown } = r.compiled;
        const uptime = r.history.uptime();
        return {
          ...stateOf(r),
          kind: plan.target.prober.kind,
          target: shown,
          labels: { ...check.labels },
          ...(check.labels.group !== undefined ? { group: check.labels.group } : {}),
          intervalMs,
          history: r.history.points(),
          ...(uptime !== undefined ? { uptime } : {}),
        };
      }),
    async stop() {
      if (!signal.aborted) {
        controller.abort(new OpsError({ code: "E_INTERRUPTED", message: "checks stopped", exitCode: ExitCode.interrupted }));
        for (const runner of runners) clearTimeout(runner.timer);
      }
      await Promise.all(runners.map((r) => r.running));
    },
  };
}

/** Compiles every check without scheduling any (opskit validate). */
export async function compileChecks(checks: Check[], where: CheckOptions["where"], vars?: Record<string, unknown>, baseDir?: string): Promise<void> {
  await Promise.all(checks.map((check, i) => compileCheck(check, i, where, vars, baseDir)));
}
