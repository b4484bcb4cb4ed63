import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { runPool } from "../engine/index.ts";
import type { Finding, Rule, Severity, SourceFile } from "./types.ts";

/*
 * ShellCheck does the shell checks it already does well (quoting, syntax,
 * portability); the audit runs it over every shell file in a few batched
 * processes and merges its comments as findings with their own ids (SC2086).
 * Output format json1: https://github.com/koalaman/shellcheck/wiki/Integration
 * (columns count a tab as one, as opskit does).
 */

export interface ShellCheckOptions {
  /** The binary; default: `shellcheck` on PATH. */
  bin?: string;
  /** Per batch process; default 120s. */
  timeoutMs?: number;
  /** Files per process; default 100 (keeps the command line short). */
  batchSize?: number;
  signal?: AbortSignal;
}

export interface ShellCheckOutcome {
  /** "ran", or why it did not. */
  status: "ran" | "not installed" | "disabled" | "no shell files";
  version?: string;
  findings: Finding[];
  rules: Rule[];
  /** Things a reader should know: batches that timed out or failed, files it cannot read. */
  notices: string[];
}

interface Comment {
  file: string;
  line: number;
  column: number;
  level: "error" | "warning" | "info" | "style";
  code: number;
  message: string;
}

const levels: Record<Comment["level"], Severity> = { error: "error", warning: "warning", info: "note", style: "note" };

export const shellcheckHelp = (code: string) => `https://www.shellcheck.net/wiki/${code}`;

/** The ShellCheck binary: the one given if it exists, else `shellcheck` on PATH. */
export function findShellCheck(bin?: string): string | undefined {
  if (bin !== undefined) return existsSync(bin) ? bin : (Bun.which(bin) ?? undefined);
  return Bun.which("shellcheck") ?? undefined;
}

/** Runs ShellCheck over the files (zsh excluded: ShellCheck does not read it). */
export async function runShellCheck(files: readonly SourceFile[], options: ShellCheckOptions = {}): Promise<ShellCheckOutcome> {
  const bin = findShellCheck(options.bin);
  if (!bin) return { status: "not installed", findings: [], rules: [], notices: [] };
  const notices: string[] = [];
  const readable = files.filter((f) => f.dialect !== "zsh");
  if (readable.length < files.length) notices.push(`ShellCheck skipped ${files.length - readable.length} zsh file(s): it does not support zsh`);
  if (readable.length === 0) return { status: "no shell files", findings: [], rules: [], notices };
  const batches = batchesOf(readable, options.batchSize ?? 100);
  const byPath = new Map(readable.map((f) => [f.path, f]));
  const comments: Comment[] = [];
  const concurrency = Math.max(1, Math.min(availableParallelism(), 4, batches.length));
  const timeoutMs = options.timeoutMs ?? 120_000;
  const version = shellcheckVersion(bin);
  for await (const outcome of runPool(batches, (batch, signal) => runBatch(bin, batch, timeoutMs, signal), { concurrency, ...(options.signal ? { signal: options.signal } : {}) })) {
    if ("error" in outcome) notices.push(`ShellCheck failed on ${outcome.item.files.length} file(s): ${String((outcome.error as Error)?.message ?? outcome.error)}`);
    else {
      comments.push(...outcome.value.comments);
      if (outcome.value.notice) notices.push(outcome.value.notice);
    }
  }
  const rules = new Map<string, Rule>();
  const findings: Finding[] = [];
  for (const comment of comments) {
    const file = byPath.get(comment.file);
    if (!file) continue;
    const id = `SC${comment.code}`;
    const severity = levels[comment.level] ?? "note";
    if (!rules.has(id)) rules.set(id, { id, severity, title: comment.message, why: comment.message, fix: `See ${shellcheckHelp(id)}`, helpUri: shellcheckHelp(id) });
    findings.push({ file: file.display, line: comment.line, column: comment.column, rule: id, severity, message: comment.message, fix: `see ${shellcheckHelp(id)}`, source: "" });
  }
  return { status: "ran", ...(version ? { version } : {}), findings, rules: [...rules.values()], notices };
}

interface Batch {
  files: SourceFile[];
  /** --shell for files without a #! line. */
  shell?: string;
}

/** Files with a #! line let ShellCheck pick the dialect; the others are read as bash (.bash) or sh. */
function batchesOf(files: readonly SourceFile[], size: number): Batch[] {
  const groups = new Map<string, SourceFile[]>();
  for (const file of files) {
    const key = file.text.startsWith("#!") ? "" : file.path.endsWith(".bash") || file.dialect === "bash" ? "bash" : "sh";
    groups.set(key, [...(groups.get(key) ?? []), file]);
  }
  const batches: Batch[] = [];
  for (const [shell, group] of groups) {
    for (let i = 0; i < group.length; i += size) batches.push({ files: group.slice(i, i + size), ...(shell ? { shell } : {}) });
  }
  return batches;
}

async function runBatch(bin: string, batch: Batch, timeoutMs: number, signal: AbortSignal): Promise<{ comments: Comment[]; notice?: string }> {
  const args = [bin, "-f", "json1", ...(batch.shell ? ["-s", batch.shell] : []), "--", ...batch.files.map((f) => f.path)];
  const child = Bun.spawn(args, { stdout: "pipe", stderr: "pipe", stdin: "ignore", timeout: timeoutMs, killSignal: "SIGKILL", signal });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (child.signalCode) return { comments: [], notice: `ShellCheck was stopped after ${Math.round(timeoutMs / 1000)}s on ${batch.files.length} file(s); their ShellCheck findings are missing` };
  let comments: Comment[] = [];
  try {
    comments = (JSON.parse(stdout) as { comments: Comment[] }).comments ?? [];
  } catch {
    return { comments: [], notice: `ShellCheck output could not be read (exit ${code}): ${stderr.trim().split("\n")[0] ?? ""}` };
  }
  // Exit 1 means "found something"; more is trouble with some file (it still reports the others).
  const notice = code > 1 && stderr.trim() ? `ShellCheck: ${stderr.trim().split("\n").slice(0, 3).join("; ")}` : undefined;
  return notice ? { comments, notice } : { comments };
}

function shellcheckVersion(bin: string): string | undefined {
  try {
    const out = Bun.spawnSync([bin, "--version"], { stdout: "pipe", stderr: "ignore" });
    return /version:\s*(\S+)/.exec(out.stdout.toString())?.[1];
  } catch {
    return undefined;
  }
}
