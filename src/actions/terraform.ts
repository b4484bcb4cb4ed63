import { mkdir, rm } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { SchemaKit } from "../schema/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { shellQuote } from "../expr/index.ts";
import { parseDuration } from "../time/index.ts";
import { formatMs } from "../ui/index.ts";
import { commandEnvironment, commandEnvSchema } from "./environment.ts";
import { failedResult } from "./errors.ts";
import { spawnLocal } from "./local.ts";
import { TailBuffer } from "./output.ts";
import { compileEnv, compileText } from "./render.ts";
import { countLine, judgePlan, MAX_LISTED_CHANGES, readPlan, type PlanSummary } from "./terraform-plan.ts";
import { traceEnvironment } from "./trace-context.ts";
import type { Action, ActionContext, ActionResult, ApprovalRequest, CommandOutput, SpecOf } from "./types.ts";

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const schema = (kit: SchemaKit) => {
  const { z, duration } = kit;
  return z
    .object({
      binary: z.string().min(1).default("terraform").describe("terraform, tofu, or the path to either (relative to the config file's directory); a bare name is looked up in the step's PATH"),
      dir: z.string().min(1).default(".").describe("the root module's directory, relative to the config file's directory; templated. Every command runs with -chdir=DIR"),
      init: z.boolean().default(true).describe("run init -input=false before planning"),
      vars: z
        .record(z.string().regex(VAR_NAME, "a Terraform variable name"), z.union([z.string(), z.number(), z.boolean()]))
        .default({})
        .describe("-var NAME=VALUE for the plan, one argument each; values templated and passed as data. Secrets go in env as TF_VAR_NAME, not here: a -var is on the command line"),
      varFiles: z.array(z.string().min(1)).default([]).describe("-var-file for the plan (relative to dir, as Terraform reads them); templated"),
      apply: z.boolean().default(false).describe("apply the saved plan, exactly that file, once the gates pass; false: plan only"),
      allowDestroy: z.boolean().default(false).describe("let the plan delete or replace resources; without it such a plan is refused (held for approval under opskit serve)"),
      maxChanges: z.number().int().min(0).optional().describe("refuse a plan that creates, updates, deletes or replaces more resources than this"),
      lockTimeout: duration.optional().describe("-lock-timeout for plan and apply: how long to wait for the state lock"),
      stopGrace: duration.default("30s").describe("on a timeout or Ctrl-C, how long Terraform gets after SIGINT to stop cleanly (and release its state lock) before SIGTERM, then SIGKILL"),
      planDir: z.string().min(1).optional().describe("where saved plans are kept (mode 0700), relative to the config file's directory; default DIR/.terraform/opskit-plans"),
      env: commandEnvSchema(kit).optional(),
    })
    .strict();
};
type TerraformSpec = SpecOf<typeof schema>;

interface TerraformRendered {
  /** As the config names it: what command lines show. */
  binary: string;
  /** The directory as rendered (relative to the config's), given to -chdir. */
  dir: string;
  workDir: string;
  init: boolean;
  apply: boolean;
  allowDestroy: boolean;
  maxChanges?: number;
  lockTimeout?: string;
  stopGraceMs: number;
  vars: [string, string][];
  varFiles: string[];
  planDir: string;
  /** This run's saved plan, chosen at render so that the judged command lines are the ones that run. */
  planFile: string;
  env: Record<string, string>;
}

/** What `opskit serve` holds for approval and hands back: the plan, by path and content. */
interface PlanGrant {
  planFile: string;
  sha256: string;
  workDir: string;
  binary: string;
}

/** `show -json` of a big configuration runs to megabytes; it is read whole, up to this. */
const MAX_PLAN_JSON_BYTES = 64 * 1024 * 1024;
const MAX_LISTED_OUTPUTS = 50;

/** A word of a command line as a person would type it: quoted only when it needs to be. */
const shownWord = (word: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : shellQuote(word));
const commandLine = (argv: readonly string[]) => argv.map(shownWord).join(" ");

/** The saved plan as the commands name it: relative to the working directory when inside it (Terraform resolves it there, after -chdir). */
function planArgument(workDir: string, planFile: string): string {
  const inside = relative(workDir, planFile);
  return inside && !inside.startsWith("..") && !isAbsolute(inside) ? inside : planFile;
}

const global = (r: TerraformRendered) => [r.binary, `-chdir=${r.dir}`];
const lockArgs = (r: TerraformRendered) => (r.lockTimeout ? [`-lock-timeout=${r.lockTimeout}`] : []);
const initArgv = (r: TerraformRendered) => [...global(r), "init", "-input=false", "-no-color"];
/** Var files first, then vars: Terraform takes the last value it is given, so a step's vars win over its files. */
const planArgv = (r: TerraformRendered) => [
  ...global(r),
  "plan",
  "-input=false",
  "-no-color",
  "-detailed-exitcode",
  ...lockArgs(r),
  `-out=${planArgument(r.workDir, r.planFile)}`,
  ...r.varFiles.map((file) => `-var-file=${file}`),
  ...r.vars.map(([name, value]) => `-var=${name}=${value}`),
];
const showArgv = (r: TerraformRendered, planFile: string) => [...global(r), "show", "-json", "-no-color", planArgument(r.workDir, planFile)];
const applyArgv = (r: TerraformRendered, planFile: string) => [...global(r), "apply", "-input=false", "-no-color", ...lockArgs(r), planArgument(r.workDir, planFile)];

async function sha256Of(path: string): Promise<string | undefined> {
  const file = Bun.file(path);
  if (!(await file.exists())) return undefined;
  return new Bun.CryptoHasher("sha256").update(await file.arrayBuffer()).digest("hex");
}

/**
 * One Terraform command at a time per working directory in this process:
 * two targets of a run planning in one directory would share its
 * .terraform and contend for its state lock. Across processes, Terraform's
 * own state lock (and lockTimeout) decides.
 */
const busyDirectories = new Map<string, Promise<void>>();

async function lockDirectory(dir: string, signal: AbortSignal): Promise<() => void> {
  for (let held = busyDirectories.get(dir); held; held = busyDirectories.get(dir)) {
    await new Promise<void>((settle, fail) => {
      const onAbort = () => fail(signal.reason instanceof OpsError ? signal.reason : interrupted());
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      void held.then(() => {
        signal.removeEventListener("abort", onAbort);
        settle();
      });
    });
  }
  let release = () => {};
  busyDirectories.set(dir, new Promise<void>((done) => (release = done)));
  return () => {
    busyDirectories.delete(dir);
    release();
  };
}

const interrupted = () => new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted });

/** The step's commands, their output kept as one transcript ("$ command" before each) and streamed as it comes. */
class Session {
  readonly stdout: TailBuffer;
  readonly stderr: TailBuffer;
  lastExit: number | null = null;

  constructor(
    readonly rendered: TerraformRendered,
    readonly context: ActionContext,
    readonly program: string,
    readonly env: Record<string, string>,
    readonly signal: AbortSignal,
  ) {
    this.stdout = new TailBuffer(context.maxOutputBytes);
    this.stderr = new TailBuffer(context.maxOutputBytes);
  }

  /** Runs one command; a timeout or interrupt throws (its output so far is kept in the transcript). */
  async exec(argv: string[], options: { quiet?: boolean } = {}): Promise<CommandOutput> {
    const header = `$ ${commandLine(argv)}\n`;
    this.stdout.push(header);
    this.context.onOutput?.("stdout", header);
    const { output, stopped } = await spawnLocal([this.program, ...argv.slice(1)], {
      cwd: this.context.baseDir,
      env: this.env,
      // The step's deadline (run) stops it first, as the step's timeout; this is only a backstop.
      timeoutMs: this.context.timeoutMs + 1000,
      signal: this.signal,
      // show -json is read whole, not kept: its tail would not parse, and its values (state, sensitive ones) are not the step's output.
      maxOutputBytes: options.quiet ? MAX_PLAN_JSON_BYTES : this.context.maxOutputBytes,
      interruptGraceMs: this.rendered.stopGraceMs,
      ...(options.quiet ? {} : { onStdout: (text: string) => this.context.onOutput?.("stdout", text) }),
      onStderr: (text) => this.context.onOutput?.("stderr", text),
    });
    if (!options.quiet) this.stdout.push(output.stdout);
    this.stderr.push(output.stderr);
    this.lastExit = output.exitCode;
    if (stopped) throw stopped;
    return output;
  }

  /** The saved plan read through show -json. */
  async show(planFile: string): Promise<PlanSummary> {
    const output = await this.exec(showArgv(this.rendered, planFile), { quiet: true });
    if (output.exitCode !== 0) throw stageFailed("show", output);
    if (output.truncated) throw new OpsError({ code: "E_TERRAFORM_PLAN_JSON", message: `show -json: the plan's JSON is over ${MAX_PLAN_JSON_BYTES / 1024 / 1024} MiB`, exitCode: ExitCode.check });
    return readPlan(output.stdout);
  }

  result(ok: boolean, changed: boolean, data: Record<string, unknown>, error?: OpsError): ActionResult {
    return {
      ok,
      changed,
      exitCode: this.lastExit,
      stdout: this.stdout.toString(),
      stderr: this.stderr.toString(),
      durationMs: 0,
      data,
      ...(error ? { error: error.toJSON() } : {}),
    };
  }
}

function stageFailed(stage: "init" | "plan" | "show" | "apply", output: CommandOutput): OpsError {
  const why = output.signal ? `killed by ${output.signal}` : `exit status ${output.exitCode}`;
  const hints = {
    init: "its output above says why; check the backend and provider settings (init runs with -input=false)",
    plan: "its output above says why (with -detailed-exitcode, 1 is an error and 2 means changes)",
    show: "the saved plan could not be read back; plan again",
    apply: "what it changed before failing is in the state: plan again to see what is left",
  };
  return new OpsError({ code: `E_TERRAFORM_${stage.toUpperCase()}`, message: `terraform ${stage} failed (${why})`, hint: hints[stage], exitCode: ExitCode.check });
}

/** The plan's resource changes as the step's result and the journal keep them: counted whole, listed up to a bound. */
function planData(summary: PlanSummary): Record<string, unknown> {
  const listed = summary.changes.slice(0, MAX_LISTED_CHANGES).map((change) => ({
    address: change.address,
    type: change.type,
    action: change.kind,
    actions: change.actions,
    ...(change.reason ? { reason: change.reason } : {}),
    ...(change.deposed ? { deposed: change.deposed } : {}),
    ...(change.replacePaths ? { replacePaths: change.replacePaths } : {}),
  }));
  return {
    formatVersion: summary.formatVersion,
    counts: summary.counts,
    resourceChanges: listed,
    ...(summary.changes.length > listed.length ? { omittedChanges: summary.changes.length - listed.length } : {}),
    outputChanges: summary.outputs.slice(0, MAX_LISTED_OUTPUTS),
  };
}

/** Applies a saved plan if its bytes are still those planned; the file goes once applied (a saved plan applies at most once). */
async function applySaved(session: Session, planFile: string, sha256: string, data: Record<string, unknown>): Promise<ActionResult> {
  const now = await sha256Of(planFile);
  if (now !== sha256) {
    const shown = relative(session.context.baseDir, planFile);
    return session.result(false, false, { ...data, plan: "changed", applied: false }, new OpsError({
      code: "E_TERRAFORM_PLAN_CHANGED",
      message: `the saved plan ${shown} is not the one planned (sha256 ${sha256.slice(0, 16)}... at plan time, ${now ? `${now.slice(0, 16)}...` : "the file is gone"} now): refused to apply it`,
      hint: "something replaced or edited the plan file between plan and apply; it is left as found. Find out what, then plan again",
      exitCode: ExitCode.check,
    }));
  }
  try {
    const output = await session.exec(applyArgv(session.rendered, planFile));
    if (output.exitCode !== 0) return session.result(false, false, { ...data, plan: "changed", applied: false }, stageFailed("apply", output));
    return session.result(true, true, { ...data, plan: "changed", applied: true });
  } finally {
    await rm(planFile, { force: true });
  }
}

/** init, plan -out, show -json, the gates, then apply of exactly the saved plan. */
async function planAndApply(session: Session): Promise<ActionResult> {
  const { rendered } = session;
  const base = { binary: rendered.binary, dir: rendered.dir };
  if (rendered.init) {
    const output = await session.exec(initArgv(rendered));
    if (output.exitCode !== 0) return session.result(false, false, { ...base, plan: "failed", applied: false }, stageFailed("init", output));
  }
  await mkdir(rendered.planDir, { recursive: true, mode: 0o700 });
  let keep = false;
  try {
    const output = await session.exec(planArgv(rendered));
    // -detailed-exitcode: 0 no changes, 2 changes, anything else an error.
    if (output.exitCode === 0) return session.result(true, false, { ...base, plan: "unchanged", applied: false, counts: { create: 0, update: 0, delete: 0, replace: 0, read: 0, forget: 0 }, resourceChanges: [] });
    if (output.exitCode !== 2) return session.result(false, false, { ...base, plan: "failed", applied: false }, stageFailed("plan", output));
    // Recorded before anything else reads the file: what is applied must be these bytes.
    const sha256 = (await sha256Of(rendered.planFile)) ?? "";
    const summary = await session.show(rendered.planFile);
    const data = { ...base, ...planData(summary), sha256 };
    if (!rendered.apply) return session.result(true, true, { ...data, plan: "changed", applied: false });
    const refusal = judgePlan(summary, rendered);
    if (refusal) {
      keep = true;
      const planShown = planArgument(rendered.workDir, rendered.planFile);
      const review = commandLine([rendered.binary, `-chdir=${rendered.dir}`, "show", planShown]);
      const request: ApprovalRequest = {
        summary: `${rendered.binary} in ${rendered.dir}: ${refusal.reason}; ${countLine(summary.counts)} Saved plan sha256 ${sha256.slice(0, 12)}`,
        grant: { planFile: rendered.planFile, sha256, workDir: rendered.workDir, binary: rendered.binary } satisfies PlanGrant,
      };
      const error = new OpsError({
        code: refusal.code,
        message: `${refusal.reason}; refused: ${refusal.fix} (${review})`,
        hint: `the saved plan is kept for review at ${relative(session.context.baseDir, rendered.planFile)}; under opskit serve the remediation waits for approval instead (opskit incidents approve ID), which applies exactly this plan`,
        exitCode: ExitCode.check,
      });
      return session.result(false, false, { ...data, plan: "changed", applied: false, refused: { gate: refusal.gate, addresses: refusal.addresses.slice(0, MAX_LISTED_CHANGES) }, approvalRequest: request }, error);
    }
    keep = true; // applySaved removes it once applied, or leaves a tampered one as found
    return await applySaved(session, rendered.planFile, sha256, data);
  } finally {
    if (!keep) await rm(rendered.planFile, { force: true });
  }
}

function grantOf(approved: Readonly<Record<string, unknown>>): PlanGrant | undefined {
  const { planFile, sha256, workDir, binary } = approved;
  return typeof planFile === "string" && typeof sha256 === "string" && typeof workDir === "string" && typeof binary === "string" ? { planFile, sha256, workDir, binary } : undefined;
}

/** A person approved a refused plan: apply exactly that saved plan (same file, same sha256), no new plan. */
async function applyApproved(session: Session, approved: Readonly<Record<string, unknown>>): Promise<ActionResult> {
  const { rendered } = session;
  const base = { binary: rendered.binary, dir: rendered.dir, approved: true };
  const grant = grantOf(approved);
  const inPlanDir = grant !== undefined && relative(rendered.planDir, grant.planFile).split(sep)[0] !== "..";
  if (!grant || grant.workDir !== rendered.workDir || grant.binary !== rendered.binary || !inPlanDir) {
    return session.result(false, false, { ...base, plan: "failed", applied: false }, new OpsError({
      code: "E_TERRAFORM_APPROVAL",
      message: `the approved plan was made ${grant ? `in ${grant.workDir} with ${grant.binary}` : "by another kind of step"}; this step now runs ${rendered.binary} in ${rendered.workDir}: nothing applied`,
      hint: "the workflow changed after the plan was approved; let the remediation plan again",
      exitCode: ExitCode.check,
    }));
  }
  const data = { ...base, sha256: grant.sha256 };
  // Checked before Terraform reads it at all, and again just before apply.
  if ((await sha256Of(grant.planFile)) !== grant.sha256) return applySaved(session, grant.planFile, grant.sha256, data);
  return applySaved(session, grant.planFile, grant.sha256, { ...data, ...planData(await session.show(grant.planFile)) });
}

/**
 * Terraform or OpenTofu on this machine: init, plan -out with
 * -detailed-exitcode (0 unchanged, 2 changed, else failed), the saved plan
 * read through show -json, gates on what it would do (deletions and
 * replacements unless allowDestroy, maxChanges), then apply of exactly the
 * saved plan, checked by the sha256 recorded when it was planned. Like exec,
 * it runs here once for each target the step runs on, with the target in
 * its templates (`dir: envs/{{ target.name }}`); a workflow that manages
 * one configuration targets `local`. Commands are argv arrays (no shell),
 * with TF_IN_AUTOMATION=1 and -input=false.
 */
export const terraformAction: Action<TerraformSpec, TerraformRendered> = {
  kind: "terraform",
  schema,
  async compile(spec, context) {
    const dir = await compileText(spec.dir, "terraform.dir", "raw", context);
    const vars = await Promise.all(Object.entries(spec.vars).map(async ([name, value]) => [name, await compileText(String(value), `terraform.vars.${name}`, "raw", context)] as const));
    const varFiles = await Promise.all(spec.varFiles.map((file, i) => compileText(file, `terraform.varFiles[${i}]`, "raw", context)));
    const env = await compileEnv(spec.env ?? {}, "terraform.env", context);
    const stopGraceMs = parseDuration(spec.stopGrace, `${context.where}.terraform.stopGrace`);
    const lockTimeout = spec.lockTimeout === undefined ? undefined : `${Math.ceil(parseDuration(spec.lockTimeout, `${context.where}.terraform.lockTimeout`) / 1000)}s`;
    return (variables) => {
      const rendered = dir(variables);
      const workDir = resolve(context.baseDir, rendered);
      const planDir = spec.planDir ? resolve(context.baseDir, spec.planDir) : resolve(workDir, ".terraform", "opskit-plans");
      return {
        binary: spec.binary,
        dir: rendered,
        workDir,
        init: spec.init,
        apply: spec.apply,
        allowDestroy: spec.allowDestroy,
        ...(spec.maxChanges !== undefined ? { maxChanges: spec.maxChanges } : {}),
        ...(lockTimeout ? { lockTimeout } : {}),
        stopGraceMs,
        vars: vars.map(([name, render]) => [name, render(variables)]),
        varFiles: varFiles.map((render) => render(variables)),
        planDir,
        planFile: resolve(planDir, `${crypto.randomUUID()}.tfplan`),
        env: env(variables),
      };
    };
  },
  describe: (rendered) => `terraform: ${commandLine(planArgv(rendered))}${rendered.apply ? `, then apply the saved plan if the gates pass${rendered.allowDestroy ? " (destroys allowed)" : ""}` : " (plan only)"}`,
  // Each command that can change something, as it will run; show -json only reads the plan.
  subjects: (rendered) => [
    ...(rendered.init ? [{ category: "commands" as const, label: "terraform init", command: commandLine(initArgv(rendered)) }] : []),
    { category: "commands", label: "terraform plan", command: commandLine(planArgv(rendered)) },
    ...(rendered.apply ? [{ category: "commands" as const, label: "terraform apply", command: commandLine(applyArgv(rendered, rendered.planFile)) }] : []),
  ],
  async run(rendered, context) {
    const startedAt = performance.now();
    const env = { TF_IN_AUTOMATION: "1", TF_INPUT: "0", ...traceEnvironment(context), ...rendered.env };
    const program = rendered.binary.includes("/") ? resolve(context.baseDir, rendered.binary) : Bun.which(rendered.binary, { PATH: commandEnvironment(env).PATH ?? "" });
    if (!program) {
      return failedResult(new OpsError({ code: "E_TERRAFORM_BINARY", message: `${rendered.binary} not found on PATH`, hint: "install it, or set binary: to its path (or PATH in the step's env)", exitCode: ExitCode.check }), startedAt);
    }
    // One deadline for every command of the step, reported as the step's timeout.
    const deadline = new AbortController();
    const timer = setTimeout(() => {
      deadline.abort(new OpsError({ code: "E_COMMAND_TIMEOUT", message: `terraform timed out after ${formatMs(context.timeoutMs)}`, hint: "raise the step's timeout (timeout: 30m); Terraform got SIGINT first, to stop cleanly", exitCode: ExitCode.check }));
    }, context.timeoutMs);
    const signal = AbortSignal.any([context.signal, deadline.signal]);
    const session = new Session(rendered, context, program, env, signal);
    let release: (() => void) | undefined;
    try {
      release = await lockDirectory(rendered.workDir, signal);
      const result = context.approved ? await applyApproved(session, context.approved) : await planAndApply(session);
      return { ...result, durationMs: performance.now() - startedAt };
    } catch (error) {
      const failed = failedResult(error, startedAt);
      return { ...failed, exitCode: session.lastExit, stdout: session.stdout.toString(), stderr: session.stderr.toString(), data: { binary: rendered.binary, dir: rendered.dir, plan: "failed", applied: false } };
    } finally {
      clearTimeout(timer);
      release?.();
    }
  },
};
