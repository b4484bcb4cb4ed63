// Errors both journals raise for the same refusal, so callers see one code whichever implementation answered.
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
