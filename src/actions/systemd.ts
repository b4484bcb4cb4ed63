import type { SchemaKit } from "../schema/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { shellQuote } from "../expr/index.ts";
import { onHost } from "./errors.ts";
import { commandResult } from "./output.ts";
import { compileText } from "./render.ts";
import type { Action, ActionContext, CommandOutput, RemoteHost, SpecOf } from "./types.ts";

const schema = ({ z }: SchemaKit) =>
  z
    .object({
      unit: z.string().min(1).describe("the unit, e.g. nginx or api@2.service; templated, and refused when it renders to anything but a unit name (letters, digits, : _ . @ \\ and -, not first; no globs)"),
      state: z.enum(["started", "stopped", "restarted", "reloaded"]).describe("started and stopped change nothing when the unit already is; restarted and reloaded always act"),
      sudo: z.boolean().default(false).describe("run systemctl through sudo -n, which fails rather than asks for a password"),
    })
    .strict();
type SystemdSpec = SpecOf<typeof schema>;
type State = SystemdSpec["state"];

interface SystemdRendered {
  unit: string;
  state: State;
  sudo: boolean;
}

const verbs: Record<State, string> = { started: "start", stopped: "stop", restarted: "restart", reloaded: "reload" };
/** For started and stopped: whether the unit is already where the step wants it, as `systemctl is-active` answers. */
const settledWhenActive: Partial<Record<State, boolean>> = { started: true, stopped: false };

/**
 * systemd's unit name characters (systemd.unit(5)), at most 255 of them. A
 * leading "-" would read as an option and `*?[` as a glob over every loaded
 * unit: both are refused, so a value from an alert label names one unit.
 */
const UNIT_NAME = /^[A-Za-z0-9:_.\\@][A-Za-z0-9:_.\\@-]{0,254}$/;

/** `systemctl is-active` exit codes (systemctl(1), "Exit status"): 0 active, 3 not active, 4 no such unit. */
const NOT_ACTIVE = 3;

/**
 * A systemctl command line. The unit travels as a shell variable that the
 * command references, as every templated value does (expr/template.ts), so
 * what it holds is never read as shell code; `shown` has it quoted in place
 * for plans, the journal and the permission check.
 */
export function systemctlLine(verb: string, rendered: SystemdRendered, sudo = rendered.sudo): { command: string; shown: string } {
  const prefix = sudo ? "sudo -n " : "";
  return {
    command: `OPSKIT_UNIT=${shellQuote(rendered.unit)}; ${prefix}systemctl ${verb} "$OPSKIT_UNIT"`,
    shown: `${prefix}systemctl ${verb} ${shellQuote(rendered.unit)}`,
  };
}

/** Whether the unit is active; a failing systemctl (no systemd, no such unit) is an error, not "inactive". */
async function isActive(host: RemoteHost, rendered: SystemdRendered, context: ActionContext): Promise<boolean | CommandOutput> {
  const output = await host.run(systemctlLine("is-active --quiet", rendered, false).command, { timeoutMs: context.timeoutMs, signal: context.signal, maxOutputBytes: context.maxOutputBytes });
  if (output.exitCode === 0) return true;
  if (output.exitCode === NOT_ACTIVE) return false;
  return output;
}

/**
 * Brings a systemd unit to a state over the target's connection (this
 * machine for `local`): `started` and `stopped` ask `systemctl is-active`
 * first and change nothing when the unit already is so; `restarted` and
 * `reloaded` always act.
 */
export const systemdAction: Action<SystemdSpec, SystemdRendered> = {
  kind: "systemd",
  onHost: true,
  schema,
  async compile(spec, context) {
    const unit = await compileText(spec.unit, "systemd.unit", "raw", context);
    const where = `${context.where}.systemd.unit`;
    return (variables) => {
      const name = unit(variables);
      if (!UNIT_NAME.test(name)) {
        throw new OpsError({
          code: "E_SYSTEMD_UNIT",
          message: `${where}: ${JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name)} is not a unit name`,
          hint: "a unit name holds letters, digits and : _ . @ \\ -, does not start with -, and names one unit (no * ? [)",
          exitCode: ExitCode.check,
        });
      }
      return { unit: name, state: spec.state, sudo: spec.sudo };
    };
  },
  describe: (rendered) => `systemd: ${systemctlLine(verbs[rendered.state], rendered).shown}${rendered.state in settledWhenActive ? ` (unless ${rendered.state})` : ""}`,
  // The state change is what permissions judge; the read-only is-active check that may precede it is not asked for.
  subjects: (rendered) => [{ category: "commands", label: "systemd command", command: systemctlLine(verbs[rendered.state], rendered).shown }],
  run: (rendered, context) =>
    onHost(context, async (host) => {
      const startedAt = performance.now();
      const data = { unit: rendered.unit, state: rendered.state };
      const settled = settledWhenActive[rendered.state];
      if (settled !== undefined) {
        const active = await isActive(host, rendered, context);
        if (typeof active !== "boolean") {
          const failed = commandResult(active, false);
          return { ...failed, error: { code: "E_EXIT_STATUS", message: `systemctl is-active: ${failed.error?.message}` }, durationMs: performance.now() - startedAt, data };
        }
        if (active === settled) return { ok: true, changed: false, exitCode: 0, stdout: "", stderr: "", durationMs: performance.now() - startedAt, data };
      }
      const output = await host.run(systemctlLine(verbs[rendered.state], rendered).command, {
        timeoutMs: Math.max(1, context.timeoutMs - (performance.now() - startedAt)),
        signal: context.signal,
        maxOutputBytes: context.maxOutputBytes,
        onStdout: (text) => context.onOutput?.("stdout", text),
        onStderr: (text) => context.onOutput?.("stderr", text),
      });
      return { ...commandResult(output), durationMs: performance.now() - startedAt, data };
    }),
};
