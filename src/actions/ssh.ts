import type { SchemaKit } from "../schema/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { shellQuote } from "../expr/index.ts";
import { commandResult } from "./output.ts";
import { commandEnvSchema } from "./environment.ts";
import { onHost } from "./errors.ts";
import { compileCommand, compileEnv, compileText } from "./render.ts";
import { traceEnvironment } from "./trace-context.ts";
import type { Action, SpecOf } from "./types.ts";

const schema = (kit: SchemaKit) => {
  const { z } = kit;
  return z.union([
    z.string().min(1),
    z.object({ command: z.string().min(1), env: commandEnvSchema(kit).optional(), stdin: z.string().optional() }).strict(),
  ]);
};
type SshSpec = SpecOf<typeof schema>;
interface SshRendered {
  /** What runs: the values as shell variables the command references. */
  command: string;
  /** What a person and the permission check read: the values quoted in place. */
  shown: string;
  stdin?: string;
}

/**
 * `export NAME='value' …; `: environment for a remote command goes on its
 * command line, each value shell-quoted, since sshd drops most client-sent
 * variables (AcceptEnv). Each command runs in a subshell of its own
 * (transport/ssh's shell protocol), so nothing leaks into the next.
 */
function exportPrefix(env: Record<string, string>): string {
  const exports = Object.entries(env).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new OpsError({ code: "E_SSH_ENV", message: `invalid environment variable name "${name}"`, hint: "use letters, digits and _", exitCode: ExitCode.config });
    }
    return `${name}=${shellQuote(value)} `;
  });
  return exports.length > 0 ? `export ${exports.join("")}; ` : "";
}

/** A remote command over the target's pooled SSH connection. */
export const sshAction: Action<SshSpec, SshRendered> = {
  kind: "ssh",
  onHost: true,
  schema,
  pollable: true,
  async compile(spec, context) {
    const full = typeof spec === "string" ? { command: spec } : spec;
    const command = await compileCommand(full.command, "ssh", context);
    const env = await compileEnv(full.env ?? {}, "ssh.env", context);
    const stdin = full.stdin === undefined ? undefined : await compileText(full.stdin, "ssh.stdin", "raw", context);
    return (variables) => {
      const { command: body, shown } = command(variables);
      const prefix = exportPrefix(env(variables));
      const rendered: SshRendered = { command: `${prefix}${body}`, shown: `${prefix}${shown}` };
      if (stdin) rendered.stdin = stdin(variables);
      return rendered;
    };
  },
  describe: (rendered) => `ssh: ${rendered.shown}`,
  // `shown` reads with the values in place; `command` only references them.
  subjects: (rendered) => [{ category: "commands", label: "ssh command", command: rendered.shown ?? rendered.command }],
  run: (rendered, context) =>
    onHost(context, async (host) =>
      commandResult(
        // The step's span before the step's own env, which may override it.
        await host.run(`${exportPrefix(traceEnvironment(context))}${rendered.command}`, {
          timeoutMs: context.timeoutMs,
          signal: context.signal,
          maxOutputBytes: context.maxOutputBytes,
          ...(rendered.stdin !== undefined ? { stdin: rendered.stdin } : {}),
          onStdout: (text) => context.onOutput?.("stdout", text),
          onStderr: (text) => context.onOutput?.("stderr", text),
        }),
      ),
    ),
};
