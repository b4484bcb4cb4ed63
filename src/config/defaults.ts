import { parseDuration } from "../time/index.ts";
import type { Defaults } from "./schema.ts";

/** What `defaults:` leaves unset, filled in once when the config loads, so that no caller writes its own `?? "5m"`. */
export interface EffectiveDefaults {
  /** defaults.stepTimeout, else 5m: the timeout of a workflow step that names none. */
  stepTimeoutMs: number;
  /** defaults.concurrency, else 32: targets in flight at once unless a strategy or --concurrency says otherwise. */
  concurrency: number;
  /** defaults.connectTimeout and authTimeout, else 10s each: an SSH connection's two waits. */
  connectTimeoutMs: number;
  authTimeoutMs: number;
  /** defaults.hostKeyChecking, else strict. */
  hostKeyChecking: NonNullable<Defaults["hostKeyChecking"]>;
  /** defaults.becomeMethod (a step's or workflow's wins; sudo when none says) and defaults.becomeFlags by method. */
  become?: { method?: NonNullable<Defaults["becomeMethod"]>; flags?: NonNullable<Defaults["becomeFlags"]> };
}

const DEFAULT_STEP_TIMEOUT = "5m";
const DEFAULT_CONCURRENCY = 32;
const DEFAULT_CONNECTION_TIMEOUT = "10s";

/** The effective defaults of a config's `defaults:` (after opskit.d/ merging and the --env overlay). */
export function effectiveDefaults(defaults: Defaults): EffectiveDefaults {
  return {
    stepTimeoutMs: parseDuration(defaults.stepTimeout ?? DEFAULT_STEP_TIMEOUT, "defaults.stepTimeout"),
    concurrency: defaults.concurrency ?? DEFAULT_CONCURRENCY,
    connectTimeoutMs: parseDuration(defaults.connectTimeout ?? DEFAULT_CONNECTION_TIMEOUT, "defaults.connectTimeout"),
    authTimeoutMs: parseDuration(defaults.authTimeout ?? DEFAULT_CONNECTION_TIMEOUT, "defaults.authTimeout"),
    hostKeyChecking: defaults.hostKeyChecking ?? "strict",
    ...(defaults.becomeMethod || defaults.becomeFlags ? { become: { ...(defaults.becomeMethod ? { method: defaults.becomeMethod } : {}), ...(defaults.becomeFlags ? { flags: defaults.becomeFlags } : {}) } } : {}),
  };
}
