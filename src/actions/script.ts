import { configError } from "../errors.ts";
import { commandResult } from "./output.ts";
import { onHost } from "./errors.ts";
import { compileText } from "./render.ts";
import { shellQuote } from "../expr/index.ts";
import type { Action } from "./types.ts";

type ScriptSpec = string | { path: string; interpreter?: string; args?: string[] };
interface ScriptRendered {
  path: string;
  interpreter: string;
  args: string[];
}

/**
 * A local script piped to a remote interpreter's stdin (`sh -s -- ARGS`), so
 * nothing is left on the host. Arguments are templated and shell-quoted.
 */
export const scriptAction: Action<ScriptSpec, ScriptRendered> = {
  kind: "script",
  async compile(spec, context) {
    const full = typeof spec === "string" ? { path: spec, interpreter: "/bin/sh", args: [] } : { interpreter: "/bin/sh", args: [], ...spec };
    const path = full.path.startsWith("/") ? full.path : `${context.baseDir}/${full.path}`;
    if (!(await Bun.file(path).exists())) throw configError("E_SCRIPT_MISSING", `${context.where}.script: ${path} not found`, "paths are relative to the config file's directory");
    const args = await Promise.all(full.args.map((arg, i) => compileText(arg, `script.args[${i}]`, "raw", context)));
    return (variables) => ({ path, interpreter: full.interpreter, args: args.map((render) => render(variables)) });
  },
  describe: (rendered) => `script: ${rendered.path}${rendered.args.length ? ` ${rendered.args.map(shellQuote).join(" ")}` : ""} (via ${rendered.interpreter})`,
  run: (rendered, context) =>
    onHost(context, async (host) => {
      const content = await Bun.file(rendered.path).text();
      // python reads a program from stdin with "-", shells with "-s".
      const stdinFlag = /python|node|ruby|perl/.test(rendered.interpreter) ? "-" : "-s";
      const command = `${shellQuote(rendered.interpreter)} ${stdinFlag}${stdinFlag === "-s" ? " --" : ""}${rendered.args.map((a) => ` ${shellQuote(a)}`).join("")}`;
      return commandResult(
        await host.run(command, {
          timeoutMs: context.timeoutMs,
          signal: context.signal,
          stdin: content,
          maxOutputBytes: context.maxOutputBytes,
          onStdout: (text) => context.onOutput?.("stdout", text),
          onStderr: (text) => context.onOutput?.("stderr", text),
        }),
      );
    }),
};
