import { createHash } from "node:crypto";
import { ExitCode, OpsError } from "../errors.ts";
import { shellQuote } from "../expr/index.ts";
import { redact } from "../observe/index.ts";
import type { ActionContext, ActionPreview, RemoteHost } from "./types.ts";

/*
 * What a copy would change, for --dry-run: the file on the host is read
 * (never written) with one shell command, over the step's connection and as
 * its become user, so it reads what the copy would replace. Text is shown as
 * a unified diff, anything else (binary, or over TEXT_LIMIT) as size and
 * SHA-256 before and after. Secrets are masked in the diff.
 */

/** Files up to this size are compared as text when both sides are UTF-8 without NUL. */
export const TEXT_LIMIT = 256 * 1024;

interface RemoteFile {
  state: "missing" | "file" | "directory";
  mode?: string;
  bytes?: number;
  sha256?: string;
  content?: Uint8Array;
}

/** The path travels as data: single-quoted once, read by the shell as a word. */
function readCommand(path: string): string {
  const p = shellQuote(path);
  return [
    `if [ -d ${p} ]; then echo directory`,
    `elif [ -f ${p} ]; then echo file; stat -L -c '%a %s' -- ${p}; sha256sum < ${p}; if [ "$(stat -L -c %s -- ${p})" -le ${TEXT_LIMIT} ]; then base64 < ${p}; fi`,
    "else echo missing; fi",
  ].join("\n");
}

async function readRemote(host: RemoteHost, path: string, context: ActionContext): Promise<RemoteFile> {
  const output = await host.run(readCommand(path), { timeoutMs: context.timeoutMs, signal: context.signal, maxOutputBytes: TEXT_LIMIT * 2 });
  if (output.exitCode !== 0) {
    throw new OpsError({ code: "E_COPY_PREVIEW", message: `could not read ${path}: ${output.stderr.trim() || `exit ${output.exitCode}`}`, exitCode: ExitCode.check });
  }
  const [state, stat, hash, ...encoded] = output.stdout.split("\n");
  if (state === "missing" || state === "directory") return { state };
  const [mode, bytes] = (stat ?? "").split(" ");
  const file: RemoteFile = { state: "file", mode: mode!.padStart(4, "0"), bytes: Number(bytes), sha256: (hash ?? "").split(/\s+/)[0]! };
  if (file.bytes! <= TEXT_LIMIT) file.content = new Uint8Array(Buffer.from(encoded.join(""), "base64"));
  return file;
}

/** Text a diff can show: UTF-8, no NUL, not too long. */
function asText(bytes: Uint8Array | undefined): string | undefined {
  if (!bytes || bytes.length > TEXT_LIMIT || bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The preview of writing `content` with `mode` at `dest` on the step's host. */
export async function previewCopy(content: Uint8Array, dest: string, mode: number, context: ActionContext): Promise<ActionPreview> {
  const host = await context.host();
  const current = await readRemote(host, dest, context);
  const after = { sha256: sha256(content), bytes: content.length, mode: mode.toString(8).padStart(4, "0") };
  if (current.state === "directory") throw new OpsError({ code: "E_COPY_PREVIEW", message: `${dest} is a directory`, exitCode: ExitCode.check });
  const newText = asText(content);
  const { unifiedDiff } = await import("../ui/diff.ts");
  // Whole and exact, however long: a copy is one file of at most TEXT_LIMIT.
  const patch = (oldText: string, from: string) => {
    const diff = unifiedDiff(oldText, newText!, { labels: [from, dest], maxLines: Number.POSITIVE_INFINITY, maxEdits: Number.POSITIVE_INFINITY });
    // A new empty file: the headers alone.
    return redact(diff ? `${diff}\n` : `--- ${from}\n+++ ${dest}\n`);
  };
  if (current.state === "missing") {
    return { status: "new", summary: `new file, ${plural(content.length, "byte")}, mode ${after.mode}`, after, ...(newText !== undefined ? { diff: patch("", "/dev/null") } : {}) };
  }
  const before = { sha256: current.sha256!, bytes: current.bytes!, mode: current.mode! };
  if (before.sha256 === after.sha256) {
    if (before.mode === after.mode) return { status: "unchanged", summary: "unchanged", before, after };
    return { status: "changed", summary: `content unchanged, mode ${before.mode} -> ${after.mode}`, before, after };
  }
  const modeNote = before.mode === after.mode ? "" : `, mode ${before.mode} -> ${after.mode}`;
  const oldText = asText(current.content);
  if (oldText === undefined || newText === undefined) {
    return { status: "changed", summary: `${plural(before.bytes, "byte")} (sha256 ${before.sha256.slice(0, 12)}) -> ${plural(after.bytes, "byte")} (sha256 ${after.sha256.slice(0, 12)})${modeNote}`, before, after };
  }
  const diff = patch(oldText, dest);
  const added = diff.split("\n").filter((l) => l.startsWith("+") && !l.startsWith("+++")).length;
  const removed = diff.split("\n").filter((l) => l.startsWith("-") && !l.startsWith("---")).length;
  return { status: "changed", summary: `+${added} -${removed} lines${modeNote}`, diff, before, after };
}
