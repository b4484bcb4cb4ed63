// A rule's PromQL query, run when an alert that the rule's labels match
// would open an incident. The queries run before the transaction that
// applies the alerts (a journal transaction never waits on the network), and
// their answers are what the rule's `when` reads inside it.
import { Slots } from "../engine/index.ts";
import { parseTarget, runProbe } from "../probe/index.ts";
import type { Alert } from "./alert.ts";
import { describeFailure } from "./remediation-runs.ts";
import { answerKey, type CompiledRule, type QueryAnswer } from "./rules.ts";

/** Queries in flight at once for one batch of alerts. */
const QUERY_CONCURRENCY = 8;

async function ask(target: string, timeoutMs: number, slots: Slots): Promise<QueryAnswer> {
  // Every query ends within its timeout, so a wait for a slot ends too.
  await slots.acquire(new AbortController().signal);
  try {
    const result = await runProbe(
      { target: parseTarget(target, "rule query"), name: "rule query", labels: {}, expectations: [] },
      { timeoutMs, retries: 0, retryDelayMs: 0, insecure: false, ca: undefined, maxBodyBytes: 1 << 20 },
      AbortSignal.timeout(timeoutMs + 1_000),
    );
    // Without expectations the prober judges an empty answer unhealthy; for a rule, an answer is an answer.
    if (result.promql) return { ok: true, result: result.promql.result, resultType: result.promql.resultType };
    return { ok: false, error: result.error?.message ?? result.reason ?? result.verdict };
  } catch (error) {
    return { ok: false, error: describeFailure(error) };
  } finally {
    slots.release();
  }
}

/**
 * Runs the queries of the rules whose labels match each firing alert that
 * has no open incident (`isOpen` reads the journal): a repeat opens nothing,
 * so its rule is not matched again. The same rendered query is asked once.
 * Returns the answers by answerKey(rule, fingerprint).
 */
export async function answerRuleQueries(rules: readonly CompiledRule[], alerts: Iterable<Alert>, isOpen: (fingerprint: string) => Promise<boolean>): Promise<Map<string, QueryAnswer>> {
  const answers = new Map<string, QueryAnswer>();
  const withQuery = rules.filter((rule) => rule.query);
  if (withQuery.length === 0) return answers;
  const slots = new Slots(QUERY_CONCURRENCY);
  const asked = new Map<string, Promise<QueryAnswer>>();
  const pending: Promise<void>[] = [];
  const seen = new Set<string>();
  for (const alert of alerts) {
    if (alert.status !== "firing" || seen.has(alert.fingerprint)) continue;
    seen.add(alert.fingerprint);
    const candidates = withQuery.filter((rule) => rule.labelsMatch(alert));
    if (candidates.length === 0 || (await isOpen(alert.fingerprint))) continue;
    for (const rule of candidates) {
      const key = answerKey(rule.name, alert.fingerprint);
      const query = rule.query!;
      let target: string;
      try {
        target = query.target(alert);
      } catch (error) {
        answers.set(key, { ok: false, error: describeFailure(error) });
        continue;
      }
      const once = `${query.timeoutMs}\u0000${target}`;
      let answer = asked.get(once);
      if (!answer) asked.set(once, (answer = ask(target, query.timeoutMs, slots)));
      pending.push(answer.then((value) => void answers.set(key, value)));
    }
  }
  await Promise.all(pending);
  return answers;
}
