import { rename, stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { emptyConfig, type Step } from "../config/index.ts";
import { isOpsError, usageError } from "../errors.ts";
import { prepareAdHoc, type PreparedRun } from "../runs/index.ts";
import { loadConfigFromOptions } from "./config-options.ts";
import type { OptionsOf } from "./options.ts";
import { runOrigin, startRun } from "./run/index.ts";
import type { wrapSpec } from "./wrap-spec.ts";

type WrapOptions = OptionsOf<typeof wrapSpec>;

/** `opskit wrap -- python3 job.py`: a first word naming one of these, followed by a file, is the interpreter. */
const INTERPRETER = /^(sh|bash|dash|zsh|ksh|python[\d.]*|perl|ruby|node)$/;

interface WrappedScript {
  path: string;
  interpreter?: string;
  args: string[];
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The script the words after `--` name: `./backup.sh ARGS`, or `python3 job.py ARGS`. */
async function locateScript(words: string[], cwd: string): Promise<WrappedScript> {
  const [first, ...rest] = words;
  if (!first) throw usageError("E_USAGE_WRAP", "wrap needs a script after --", "e.g. opskit wrap --timeout 10m -- ./backup.sh --full");
  if (await isFile(resolve(cwd, first))) return { path: resolve(cwd, first), args: rest };
  const [second, ...args] = rest;
  if (INTERPRETER.test(basename(first)) && second !== undefined && (await isFile(resolve(cwd, second)))) return { path: resolve(cwd, second), interpreter: first, args };
  throw usageError(
    "E_WRAP_SCRIPT",
    `no script ${first} (looked in ${cwd})`,
    "wrap runs a script file: opskit wrap -- ./backup.sh ARGS, or opskit wrap -- python3 job.py ARGS; for a plain command use opskit exec",
  );
}

/** The one step: the script, its arguments through vars, the timeout per attempt and the retries (at most 99, wrap-spec.ts). */
function wrapStep(script: WrappedScript, options: WrapOptions): { step: Step; timeoutMs: number } {
  const { timeout, retries, retryDelay } = options;
  if (timeout.ms <= 0) throw usageError("E_USAGE_OPTION", `invalid --timeout "${timeout.text}"`, "give a duration above zero, e.g. 10m");
  const step: Step = {
    name: "script",
    script: {
      path: script.path,
      // Arguments reach the script through vars.args, so text such as '{{.Names}}' is passed as it is, not read as a template.
      args: script.args.map((_, i) => `{{ vars.args[${i}] }}`),
      ...(script.interpreter ? { interpreter: script.interpreter } : {}),
      ...(options.exitMap !== undefined ? { exitMap: options.exitMap } : {}),
    },
    timeout: timeout.text,
    ...(retries > 0 ? { retries: { attempts: retries + 1, backoff: retryDelay.text } } : {}),
    continueOnError: false,
  };
  return { step, timeoutMs: timeout.ms };
}

/**
 * `opskit wrap`: a legacy script as a one-step run, prepared like `opskit
 * exec`'s, so it gets the same timeout, retries, output, journal and Ctrl-C
 * handling. Without --on it runs on this machine and needs no config.
 */
export async function prepareWrap(words: string[], options: WrapOptions): Promise<PreparedRun> {
  const cwd = process.cwd();
  const script = await locateScript(words, cwd);
  const { step, timeoutMs } = wrapStep(script, options);
  const selector = options.on !== undefined && options.on !== "local" ? options.on : undefined;
  // Nothing to read for this machine: wrap works in a directory without opskit.yaml.
  const loaded = selector ? await loadConfigFromOptions(options) : { ...(await emptyConfig(cwd)), where: () => "opskit wrap" };
  const name = options.name || basename(script.path);
  const { configPath, env, policyPath } = runOrigin(options);
  try {
    return await prepareAdHoc(loaded, {
      // Without --on no config is read, so none is recorded.
      ...(selector && configPath ? { configPath } : {}),
      ...(selector && env ? { env } : {}),
      ...(policyPath ? { policyPath } : {}),
      name: `wrap:${name}`,
      command: words.join(" "),
      steps: [step],
      ...(selector ? { on: { selector, where: "opskit wrap --on" } } : {}),
      // `opskit runs resume` must not replay a wrapped script as an ad-hoc exec command.
      replayable: false,
      timeoutMs,
      compiledAs: { name: "wrap", where: "opskit wrap" },
      baseDir: cwd,
      vars: { args: script.args },
      // The script runs in place of `./backup.sh` from the caller's shell or crontab, so it keeps
      // that environment (AWS_PROFILE, PGPASSWORD, …), minus opskit's own tokens and secrets.
      localEnvironment: "inherit",
    });
  } catch (error) {
    if (isOpsError(error) && error.code === "E_SCRIPT_EXIT_MAP") throw usageError("E_USAGE_EXIT_MAP", `invalid --exit-map ${JSON.stringify(options.exitMap)}`, error.hint);
    throw error;
  }
}

/**
 * --metrics-file: the last run in Prometheus text format, for node_exporter's
 * textfile collector, so a cron job wrapped by opskit can be alerted on
 * (failed, or not run for too long). Written atomically (a rename).
 */
export async function writeWrapMetrics(file: string, name: string, exitCode: number, startedMs: number, finishedMs: number): Promise<void> {
  const label = `{name="${name.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"}`;
  const lines = [
    "# HELP opskit_wrap_last_run_timestamp_seconds When the wrapped script's last run finished.",
    "# TYPE opskit_wrap_last_run_timestamp_seconds gauge",
    `opskit_wrap_last_run_timestamp_seconds${label} ${(finishedMs / 1000).toFixed(3)}`,
    "# HELP opskit_wrap_last_run_duration_seconds How long the last run took, retries included.",
    "# TYPE opskit_wrap_last_run_duration_seconds gauge",
    `opskit_wrap_last_run_duration_seconds${label} ${((finishedMs - startedMs) / 1000).toFixed(3)}`,
    "# HELP opskit_wrap_last_run_success 1 when the last run succeeded (a warning included), else 0.",
    "# TYPE opskit_wrap_last_run_success gauge",
    `opskit_wrap_last_run_success${label} ${exitCode === 0 ? 1 : 0}`,
    "# HELP opskit_wrap_last_run_exit_code opskit's exit code for the last run: 0 ok, 1 unreachable, 2 failed, 130 interrupted.",
    "# TYPE opskit_wrap_last_run_exit_code gauge",
    `opskit_wrap_last_run_exit_code${label} ${exitCode}`,
    "",
  ];
  const temporary = `${file}.${process.pid}.tmp`;
  await Bun.write(temporary, lines.join("\n"));
  await rename(temporary, file);
}

export async function wrapCommand(args: string[], options: WrapOptions): Promise<number> {
  const prepared = await prepareWrap(args, options);
  const startedMs = Date.now();
  const code = await startRun(prepared, options);
  if (options.metricsFile !== undefined) await writeWrapMetrics(options.metricsFile, prepared.name.slice("wrap:".length), code, startedMs, Date.now());
  return code;
}
