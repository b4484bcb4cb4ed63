import { ExitCode, OpsError } from "../errors.ts";
import { PhaseClock, PhaseError, type Phase } from "../transport/index.ts";
import { sleep } from "../time/index.ts";
import { formatMs } from "../ui/index.ts";
import type { Attempt, ExpectationResult, Observation, ProbeContext, ProbePlan, ProbeResult, ProbeSettings, Timings, Verdict } from "./types.ts";

/** Loaded with the first expectation checked (see cel-scope.ts). */
let celScope: typeof import("./cel-scope.ts") | undefined;

const exitFor: Record<Verdict, number> = { healthy: ExitCode.ok, down: ExitCode.transport, unhealthy: ExitCode.check, interrupted: ExitCode.interrupted };

interface AttemptOutcome {
  attempt: Attempt;
  observation: Observation;
  expectations: ExpectationResult[];
  error?: OpsError;
}

/**
 * Probes one target, retrying up to `retries` more times until it is healthy.
 * Every attempt is kept as evidence; only the last decides the verdict.
 */
export async function runProbe(plan: ProbePlan, settings: ProbeSettings, signal: AbortSignal): Promise<ProbeResult> {
  const attempts: Attempt[] = [];
  let last: AttemptOutcome | undefined;
  for (let n = 1; n <= settings.retries + 1; n++) {
    last = await attemptProbe(plan, settings, signal, n);
    attempts.push(last.attempt);
    const verdict = last.attempt.verdict;
    if (verdict === "healthy" || verdict === "interrupted" || n > settings.retries) break;
    if (!(await sleep(settings.retryDelayMs, signal))) break;
  }
  return resultOf(plan, last!, attempts);
}

/**
 * The result's fields in their documented order (the --json lines keep it),
 * assigned one by one: object spreads here cost a measurable share of a
 * probe of a fast local endpoint.
 */
function resultOf(plan: ProbePlan, final: AttemptOutcome, attempts: Attempt[]): ProbeResult {
  const { attempt, observation } = final;
  const result = {
    target: plan.target.raw,
    name: plan.name,
    kind: plan.target.prober.kind,
    labels: plan.labels,
    verdict: attempt.verdict,
    exitCode: attempt.exitCode,
  } as ProbeResult;
  if (attempt.phase) result.phase = attempt.phase;
  if (attempt.reason) result.reason = attempt.reason;
  if (final.error) result.error = final.error.toJSON();
  const fields = result as unknown as Record<string, unknown>;
  for (const key in observation) fields[key] = observation[key as keyof Observation];
  result.timings = attempt.timings;
  result.expectations = final.expectations;
  result.attempts = attempts;
  result.startedAt = attempts[0]!.startedAt;
  return result;
}

/**
 * One attempt's abort controller: aborted by its timer or by the run's
 * signal (it is that signal's listener, handleEvent). A class with shared
 * functions rather than closures per attempt: at thousands of probes a
 * second, allocating them is a measurable share of a probe.
 */
class AttemptControl extends AbortController implements EventListenerObject {
  constructor(private readonly outer: AbortSignal) {
    super();
  }

  handleEvent(): void {
    this.abort(this.outer.reason);
  }
}

// The error is built only when the timer fires: most probes never need it.
function abortOnTimeout(control: AttemptControl, timeoutMs: number): void {
  control.abort(new OpsError({ code: "E_TIMEOUT", message: `timed out after ${formatMs(timeoutMs)}`, hint: "raise --timeout, or find out why the service is slow", exitCode: ExitCode.transport }));
}

/** The attempt's record: its phases (not check, which is not the probe's time) and its total. */
function attemptOf(n: number, startedAt: string, clock: PhaseClock, verdict: Verdict, phase?: Phase, reason?: string): Attempt {
  const timings = {} as Record<string, number | undefined>;
  const phases = clock.timings;
  for (const key in phases) if (key !== "check" && key !== "request") timings[key] = phases[key as Phase];
  timings.total = clock.elapsed();
  const attempt: Attempt = { attempt: n, startedAt, verdict, exitCode: exitFor[verdict], timings: timings as unknown as Timings };
  if (phase) attempt.phase = phase;
  if (reason) attempt.reason = reason;
  return attempt;
}

async function attemptProbe(plan: ProbePlan, settings: ProbeSettings, outer: AbortSignal, n: number): Promise<AttemptOutcome> {
  const startedAt = new Date().toISOString();
  const clock = new PhaseClock();
  const control = new AttemptControl(outer);
  const timer = setTimeout(abortOnTimeout, settings.timeoutMs, control, settings.timeoutMs);
  // Removed in the finally below: no { once } needed, and it costs more to add.
  if (outer.aborted) control.handleEvent();
  else outer.addEventListener("abort", control);
  const context: ProbeContext = { clock, signal: control.signal, timeoutMs: settings.timeoutMs, insecure: settings.insecure, ca: settings.ca, maxBodyBytes: settings.maxBodyBytes };
  if (settings.redirects !== undefined) context.redirects = settings.redirects;
  if (settings.proxy) context.proxy = settings.proxy;
  if (settings.clientCert) context.clientCert = settings.clientCert;

  try {
    const observation = await plan.target.prober.run(plan.target.spec, context);
    clock.stop();
    clock.enter("check");
    const total = clock.elapsed();
    if (plan.expectations.length === 0) {
      const problem = plan.target.prober.judge?.(observation);
      const attempt = problem ? attemptOf(n, startedAt, clock, "unhealthy", "check", problem) : attemptOf(n, startedAt, clock, "healthy");
      return { attempt, observation, expectations: [], error: undefined };
    }
    celScope ??= await import("./cel-scope.ts");
    const variables = celScope.expectationScope(plan, observation, { ...clock.timings, total });
    const results = plan.expectations.map((expectation): ExpectationResult => {
      const outcome = expectation.test(variables);
      if (outcome.error) return { expr: expectation.source, passed: false, error: outcome.error };
      return { expr: expectation.source, passed: outcome.passed, ...(outcome.actual ? { actual: outcome.actual } : {}) };
    });
    const failed = results.find((r) => !r.passed);
    if (!failed) return { attempt: attemptOf(n, startedAt, clock, "healthy"), observation, expectations: results, error: undefined };
    // As hurl reports an assert: what was expected, then what the names it read held.
    const reason = failed.error ? `expectation ${failed.expr}: ${failed.error}` : failed.actual ? `expected ${failed.expr}, got ${failed.actual}` : `expectation failed: ${failed.expr}`;
    return { attempt: attemptOf(n, startedAt, clock, "unhealthy", "check", reason), observation, expectations: results, error: undefined };
  } catch (error) {
    const failure = asPhaseError(error, clock.phase);
    const verdict: Verdict = failure.exitCode === ExitCode.interrupted ? "interrupted" : failure.exitCode === ExitCode.check ? "unhealthy" : "down";
    return { attempt: attemptOf(n, startedAt, clock, verdict, failure.phase, `failed in ${failure.phase}: ${failure.message}`), observation: {}, expectations: [], error: failure };
  } finally {
    clearTimeout(timer);
    outer.removeEventListener("abort", control);
  }
}

function asPhaseError(error: unknown, phase: Phase): PhaseError {
  if (error instanceof PhaseError) return error;
  if (error instanceof OpsError) return new PhaseError(phase, error.code, error.message, { hint: error.hint, exitCode: error.exitCode });
  const message = error instanceof Error ? error.message : String(error);
  return new PhaseError(phase, "E_PROBE", message, { cause: error });
}
