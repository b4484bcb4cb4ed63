import type { SchemaKit } from "../schema/index.ts";
import { secrets } from "../observe/index.ts";

/**
 * The variables of opskit's own environment a command on this machine gets:
 * enough to find programs, write temporary files, read the locale and the
 * time zone. Nothing else is passed on (not opskit's tokens, not the secrets
 * its config references, not whatever the server was started with): a step
 * declares what it needs in its `env:`, e.g. `SSH_AUTH_SOCK: "{{ env.SSH_AUTH_SOCK }}"`.
 */
export const BASE_ENVIRONMENT: readonly string[] = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", "TERM", "TMPDIR"];
const LOCALE = /^LC_[A-Z_]+$/;
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * "minimal": the base set above. "inherit": opskit's whole environment
 * minus its own secrets, for `opskit wrap`, which a person or cron runs in
 * place of the script itself.
 */
export type EnvironmentBase = "minimal" | "inherit";

/** opskit's own settings and tokens: OPSKIT_TOKEN, OPSKIT_WEBHOOK_TOKEN, OPSKIT_SERVER, … */
const isOwnVariable = (name: string) => name.startsWith("OPSKIT_");

/** The environment a command starts with: the base, then what the step declares. */
export function commandEnvironment(declared: Record<string, string> = {}, base: EnvironmentBase = "minimal", env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const passed =
      base === "inherit"
        ? !isOwnVariable(name) && !secrets.variableNames.has(name) && !secrets.holds(value)
        : BASE_ENVIRONMENT.includes(name) || LOCALE.test(name);
    if (passed) out[name] = value;
  }
  out.PATH ??= DEFAULT_PATH;
  return { ...out, ...declared };
}

/** A step's `env:` for a command (exec, ssh, script), as opskit.yaml writes it. */
export const commandEnvSchema = ({ z }: SchemaKit) =>
  z
    .record(z.string(), z.string())
    .describe('variables for the command; on this machine it gets only these besides PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TZ, TERM and TMPDIR. A value "env:NAME" or "file:/path" is a secret: read when the step runs, shown as *** in output, the journal and errors');
