import { basename, isAbsolute, relative } from "node:path";
import type { SchemaKit } from "../schema/index.ts";
import { configError, ExitCode, OpsError } from "../errors.ts";
import { formatMs } from "../ui/index.ts";
import { shellQuote } from "../expr/index.ts";
import { commandEnvSchema } from "./environment.ts";
import { failedResult, onHost } from "./errors.ts";
import { compileEnv, compileText } from "./render.ts";
import { traceEnvironment } from "./trace-context.ts";
import type { Action, ActionResult, CommandOutput, RemoteHost, SpecOf } from "./types.ts";

/** "24=ok,1=failed" or { 24: ok, 1: failed }: how a legacy script's exit codes read; codes not listed: 0 ok, others failed. */
const exitMapSchema = ({ z }: SchemaKit) =>
  z.union([
    z.string().regex(/^\s*\d+\s*=\s*(ok|warning|failed)\s*(,\s*\d+\s*=\s*(ok|warning|failed)\s*)*$/, 'pairs such as "24=ok,1=failed" (ok, warning or failed)'),
    z.record(z.string().regex(/^\d+$/, "an exit code"), z.enum(["ok", "warning", "failed"])),
  ]);

const schema = (kit: SchemaKit) => {
  const { z } = kit;
  return z.union([
    z.string().min(1),
    z
      .object({
        path: z.string().min(1),
        interpreter: z.string().optional().describe("default: the script's #! line, else /bin/sh"),
        args: z.array(z.string()).default([]),
        exitMap: exitMapSchema(kit).optional().describe('how exit codes read, e.g. "24=ok,1=failed"'),
        env: commandEnvSchema(kit).optional(),
      })
      .strict(),
  ]);
};
type ScriptSpec = SpecOf<typeof schema>;
type ExitMapSpec = SpecOf<typeof exitMapSchema>;
export type ExitClass = "ok" | "warning" | "failed";
interface ScriptRendered {
  path: string;
  /** The step's, else the script's #! line when the workflow was compiled (what plans and permission checks see is what runs). */
  interpreter: string;
  args: string[];
  env: Record<string, string>;
  exitMap: Record<number, ExitClass>;
}

const CLEANUP_TIMEOUT_MS = 10_000;

/** "24=ok,1=failed" or { 24: ok }: how exit codes read. Codes not listed: 0 ok, anything else failed. */
export function parseExitMap(spec: ExitMapSpec | undefined, where: string): Record<number, ExitClass> {
  if (spec === undefined) return {};
  const pairs = typeof spec === "string" ? spec.split(",").map((pair) => pair.split("=").map((part) => part.trim())) : Object.entries(spec);
  const map: Record<number, ExitClass> = {};
  for (const [code, verdict] of pairs) {
    if (!code || !/^\d+$/.test(code) || Number(code) > 255 || (verdict !== "ok" && verdict !== "warning" && verdict !== "failed")) {
      throw configError("E_SCRIPT_EXIT_MAP", `${where}: invalid exit map ${JSON.stringify(spec)}`, 'write exit codes (0-255) and how they read, e.g. "24=ok,3=warning,1=failed"');
    }
    map[Number(code)] = verdict;
  }
  return map;
}

export function classifyExit(exitCode: number | null, exitMap: Record<number, ExitClass>): ExitClass {
  if (exitCode === null) return "failed";
  return exitMap[exitCode] ?? (exitCode === 0 ? "ok" : "failed");
}

/** The interpreter a script's #! line names: `#!/usr/bin/env python3` is python3, `#!/bin/bash -e` stays as it is; none is /bin/sh. */
export function shebangInterpreter(content: string): string {
  const end = content.indexOf("\n");
  const first = content.startsWith("#!") ? content.slice(2, end < 0 ? undefined : end).trim() : "";
  const words = first.split(/\s+/).filter(Boolean);
  if (words.length === 0) return "/bin/sh";
  if (basename(words[0]!) === "env") {
    const rest = words.slice(1).filter((word) => word !== "-S");
    return rest.length > 0 ? rest.join(" ") : "/bin/sh";
  }
  return words.join(" ");
}

/** A script's exit code read through its exit map; a warning is a success whose result says so. */
export function scriptResult(output: CommandOutput, exitMap: Record<number, ExitClass>): ActionResult {
  const exitClass = classifyExit(output.exitCode, exitMap);
  const result: ActionResult = {
    ok: exitClass !== "failed",
    changed: exitClass !== "failed",
    exitCode: output.exitCode,
    stdout: output.stdout,
    stderr: output.stderr,
    durationMs: output.durationMs,
    data: { exitClass, exitCode: output.exitCode },
  };
  if (exitClass === "failed") {
    const why = output.signal ? `killed by ${output.signal}` : `exit status ${output.exitCode}${output.exitCode === 0 ? " reads as failed (exit map)" : ""}`;
    result.error = { code: "E_EXIT_STATUS", message: why };
  } else if (exitClass === "warning") {
    // The terminal recap and `runs show` print a result's error message beside its exit code: a warning is seen where failures are.
    result.error = { code: "W_EXIT_WARNING", message: `warning: exit status ${output.exitCode} reads as a warning (exit map)` };
  }
  return result;
}

/** Per run, not only per content: two runs of one script on a host must not delete each other's copy. */
function remotePathFor(path: string, content: Uint8Array): string {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(content);
  const name = basename(path).replace(/[^\w.-]/g, "_");
  return `/tmp/opskit-script-${hasher.digest("hex").slice(0, 12)}-${crypto.randomUUID().slice(0, 8)}-${name}`;
}

/** `env 'K=V' … interpreter PATH ARGS </dev/null`: the script reads EOF from stdin on any RemoteHost, never a hang. */
function scriptCommand(interpreter: string, remotePath: string, args: readonly string[], env: Record<string, string>): string {
  const exports = Object.entries(env).map(([name, value]) => shellQuote(`${name}=${value}`));
  const words = [...(exports.length > 0 ? ["env", ...exports] : []), ...interpreter.split(/\s+/).filter(Boolean).map(shellQuote), shellQuote(remotePath), ...args.map(shellQuote)];
  return `${words.join(" ")} </dev/null`;
}

async function removeCopy(host: RemoteHost, remotePath: string): Promise<void> {
  try {
    // Its own timeout and signal: the step's may be spent (timeout) or aborted (Ctrl-C), and the copy should still go.
    await host.run(`rm -f -- ${shellQuote(remotePath)}`, { timeoutMs: CLEANUP_TIMEOUT_MS, signal: new AbortController().signal, maxOutputBytes: 4096 });
  } catch {
    // Best effort: what can be left behind is a copy of the script, mode 0700.
  }
}

/**
 * A local script, legacy ones as they are: copied to the target (mode 0700),
 * run by its interpreter with stdin at EOF, then removed. The interpreter is
 * named rather than the copy executed, so a /tmp mounted noexec does not
 * matter. Arguments and env are templated and shell-quoted; the exit code
 * reads through the step's exit map.
 */
export const scriptAction: Action<ScriptSpec, ScriptRendered> = {
  kind: "script",
  onHost: true,
  schema,
  async compile(spec, context) {
    const full: Exclude<ScriptSpec, string> = typeof spec === "string" ? { path: spec, args: [] } : spec;
    const path = full.path.startsWith("/") ? full.path : `${context.baseDir}/${full.path}`;
    const file = Bun.file(path);
    if (!(await file.exists())) throw configError("E_SCRIPT_MISSING", `${context.where}.script: ${path} not found`, "paths are relative to the config file's directory");
    const exitMap = parseExitMap(full.exitMap, `${context.where}.script.exitMap`);
    const badName = Object.keys(full.env ?? {}).find((name) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
    if (badName !== undefined) throw configError("E_SCRIPT_ENV", `${context.where}.script.env: invalid variable name "${badName}"`, "use letters, digits and _, not starting with a digit");
    const interpreter = full.interpreter ?? shebangInterpreter(await file.slice(0, 256).text());
    const args = await Promise.all((full.args ?? []).map((arg, i) => compileText(arg, `script.args[${i}]`, "raw", context)));
    const env = await compileEnv(full.env ?? {}, "script.env", context);
    return (variables) => ({ path, interpreter, args: args.map((render) => render(variables)), env: env(variables), exitMap });
  },
  describe: (rendered) => `script: ${rendered.path}${rendered.args.length ? ` ${rendered.args.map(shellQuote).join(" ")}` : ""} (via ${rendered.interpreter})`,
  // Judged as the line a person would type in the config's directory: interpreter, path relative to it, quoted args.
  subjects(rendered, { baseDir }) {
    const shown = relative(baseDir, rendered.path);
    const path = shown && !shown.startsWith("..") && !isAbsolute(shown) ? shown : rendered.path;
    return [{ category: "commands", label: "script command", command: [rendered.interpreter, path, ...rendered.args.map(shellQuote)].join(" ") }];
  },
  run: (rendered, context) =>
    onHost(context, async (host) => {
      const startedAt = performance.now();
      const deadline = startedAt + context.timeoutMs;
      // On this machine the script runs where it is: a legacy script that
      // sources files beside itself ("$(dirname "$0")/lib.sh") keeps working.
      const content = host.local ? undefined : new Uint8Array(await Bun.file(rendered.path).arrayBuffer());
      const remotePath = content ? remotePathFor(rendered.path, content) : rendered.path;
      const command = scriptCommand(rendered.interpreter, remotePath, rendered.args, { ...traceEnvironment(context), ...rendered.env });
      // One deadline for the copy and the run, reported as the step's timeout
      // ("timed out after 1.00s"), not as whatever was left after the copy.
      const stepDeadline = new AbortController();
      const timer = setTimeout(() => {
        const code = host.local ? "E_COMMAND_TIMEOUT" : "E_SSH_COMMAND_TIMEOUT";
        stepDeadline.abort(new OpsError({ code, message: `command timed out after ${formatMs(context.timeoutMs)}`, hint: "raise the step's timeout (--timeout), or make the script finish sooner", exitCode: ExitCode.check }));
      }, Math.max(1, deadline - performance.now()));
      const signal = AbortSignal.any([context.signal, stepDeadline.signal]);
      try {
        if (content) await host.upload(content, remotePath, 0o700, { timeoutMs: context.timeoutMs, signal });
        const output = await host.run(command, {
          timeoutMs: context.timeoutMs,
          signal,
          maxOutputBytes: context.maxOutputBytes,
          onStdout: (text) => context.onOutput?.("stdout", text),
          onStderr: (text) => context.onOutput?.("stderr", text),
        });
        return { ...scriptResult(output, rendered.exitMap), durationMs: performance.now() - startedAt };
      } catch (error) {
        // Timed out, interrupted, or the copy failed: a failure whose class is still stated.
        const failed = failedResult(error, startedAt);
        return { ...failed, data: { exitClass: "failed", exitCode: null } };
      } finally {
        clearTimeout(timer);
        if (content) await removeCopy(host, remotePath);
      }
    }),
};
