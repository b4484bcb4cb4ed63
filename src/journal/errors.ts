// Errors both journals raise for the same refusal or misuse, so callers see one answer whichever implementation answered.
import { ExitCode, OpsError } from "../errors.ts";

/** A second open incident for a fingerprint: the unique key (one open incident per fingerprint) refused it. */
export function incidentAlreadyOpen(fingerprint: string, cause?: unknown): OpsError {
  return new OpsError({
    code: "E_INCIDENT_OPEN",
    message: `an incident for fingerprint ${fingerprint} is open already`,
    hint: "findOpenIncident(fingerprint) returns it; a notification for it folds onto that incident",
    exitCode: ExitCode.internal,
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * A store method called through a transaction's `tx` when it may not be: the
 * transaction has ended, or a nested one (a savepoint) is under way and must
 * be awaited first. Undefined when the call may go on.
 */
export function transactionMisuse(view: { open: boolean; nested: boolean }, name: string): Error | undefined {
  if (!view.open) return new Error(`journal: ${name} called through a transaction that has ended`);
  if (view.nested) return new Error(`journal: ${name} called while a nested transaction is under way: await it first`);
  return undefined;
}
