import { randomBytes } from "node:crypto";
import type { CommandOutput, RemoteHost, RunOptions } from "../actions/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { shellQuote } from "../expr/index.ts";
import type { HostBecome } from "../inventory/index.ts";
import type { BecomeMethod } from "../schema/index.ts";

/*
 * become: a step's commands run as another user on its host (Ansible's
 * become). The command, values and all, is one single-quoted argument of a
 * shell the method starts as that user, `sudo -n -u USER -- /bin/sh -c
 * 'COMMAND'`: the method, its flags and the user are config text (checked by
 * the schema) and quoted too, so nothing a value holds reaches a shell as
 * anything but data. Methods never prompt (-n); one that wants a password is
 * a clear error, not a hang.
 */

export type { BecomeMethod };

export interface Become {
  user: string;
  method: BecomeMethod;
  /** defaults.becomeFlags for this method, placed after its own non-interactive flag. */
  flags: readonly string[];
}

/** The config's defaults for become (defaults.becomeMethod, defaults.becomeFlags). */
export interface BecomeDefaults {
  method?: BecomeMethod;
  flags?: Partial<Record<BecomeMethod, readonly string[]>>;
}

/** become as a step (or its workflow) says it: what it leaves out, the host's settings and then the defaults fill in. */
export interface StepBecome {
  user?: string;
  method?: BecomeMethod;
  defaults?: BecomeDefaults;
}

/** Who a become step runs as on a host: step or workflow, then the host's (and its groups') settings, then defaults.becomeMethod, sudo and root. */
export function becomeOn(step: StepBecome, host: HostBecome | undefined): Become {
  const method = step.method ?? host?.method ?? step.defaults?.method ?? "sudo";
  return { user: step.user ?? host?.user ?? "root", method, flags: step.defaults?.flags?.[method] ?? [] };
}

const words = (list: readonly string[]) => list.map(shellQuote).join(" ");

/** The shell text that runs `command` (a whole shell command) as the become user. */
export function becomeCommand(become: Become, command: string): string {
  const user = shellQuote(become.user);
  const script = shellQuote(command);
  const flags = become.flags.length > 0 ? `${words(become.flags)} ` : "";
  switch (become.method) {
    case "sudo":
      return `sudo -n ${flags}-u ${user} -- /bin/sh -c ${script}`;
    case "doas":
      return `doas -n ${flags}-u ${user} -- /bin/sh -c ${script}`;
    case "su":
      // su has no non-interactive flag: without a terminal it fails rather than asks (and root needs no password).
      return `su ${flags}-s /bin/sh -c ${script} ${user}`;
  }
}

/** The words a command is prefixed with, as permissions and the org policy read it (`sudo -n -u root --`). */
export function becomePrefix(become: Become): string {
  const flags = become.flags.length > 0 ? `${become.flags.join(" ")} ` : "";
  if (become.method === "su") return `su ${flags}-s /bin/sh ${become.user} -c`;
  return `${become.method} -n ${flags}-u ${become.user} --`;
}

/** What each method prints when it would have to ask for a password, or refuses the login user outright. */
const refusals: Record<BecomeMethod, RegExp> = {
  sudo: /sudo: (a password is required|a terminal is required)|is not in the sudoers file|is not allowed to (run|execute)/,
  doas: /doas: (Authentication (required|failed)|a password is required|Operation not permitted)/,
  su: /su: (Authentication failure|must be run from a terminal|Permission denied)/,
};

/**
 * How a command runs as the become user. Without input of its own, the
 * command (with its values and env: secrets) is the become shell's standard
 * input, read whole before it runs, so none of it is on a command line that
 * others on the host can list (ps, /proc); the command then reads an empty
 * input, as any command opskit runs does. A command with input of its own
 * (ssh's stdin:) is the shell's -c argument instead.
 */
export function becomeRun(become: Become, command: string, options: RunOptions): [string, RunOptions] {
  if (options.stdin !== undefined) return [`${becomeCommand(become, WITH_INPUT)} sh ${shellQuote(command)}`, options];
  return [becomeCommand(become, FROM_INPUT), { ...options, stdin: command }];
}

// Stopping a command (a timeout, Ctrl-C) signals the remote shell's process
// group, and the login user cannot signal the become user's processes: sudo
// passes TERM to its child only, and what that started would live on. So
// the become shell runs the command in the background, waits, and on TERM
// or HUP signals the whole group as the become user (`kill 0` reaches what
// that user may signal there).
const STOP_ALL = "trap 'trap - TERM HUP; kill -TERM 0' TERM HUP";
/** The command is the shell's input: read whole, then run with an empty input. */
const FROM_INPUT = `s=$(cat) || exit; exec </dev/null; ${STOP_ALL}; eval "$s" & wait $!`;
/** The command is $1, and keeps the input it was given (an async list's own is /dev/null). */
const WITH_INPUT = `${STOP_ALL}; exec 3<&0; { eval "$1"; } <&3 3<&- & wait $!`;

/** The become method's refusal in a command's stderr, as a clear error; undefined when it is the command's own failure. */
export function becomeRefusal(become: Become, target: string, exitCode: number | null, stderr: string): OpsError | undefined {
  if (exitCode === 0 || !refusals[become.method].test(stderr)) return undefined;
  const line = stderr.split("\n").find((l) => refusals[become.method].test(l))?.trim() ?? stderr.trim();
  const hint =
    become.method === "sudo"
      ? `let the login user run commands as ${become.user} without a password (a sudoers line such as 'deploy ALL=(${become.user}) NOPASSWD: ALL'), or set becomeMethod (and defaults.becomeFlags) to a method that needs none`
      : become.method === "doas"
        ? `allow it without a password in doas.conf ('permit nopass deploy as ${become.user}'), or set becomeMethod to a method that needs none`
        : `su asks for ${become.user}'s password unless the login user is root: log in as root, or use becomeMethod: sudo with NOPASSWD`;
  return new OpsError({
    code: "E_BECOME_PASSWORD",
    message: `${become.method} on ${target} would not run the command as ${become.user} without a password: ${line}`,
    hint,
    exitCode: ExitCode.check,
  });
}

/** A stderr that is the method's refusal, as the step's error; the command's own failures pass unchanged. */
function checked(become: Become, target: string, output: CommandOutput): CommandOutput {
  const refusal = becomeRefusal(become, target, output.exitCode, output.stderr);
  if (refusal) throw refusal;
  return output;
}

// Writes stdin to DEST the way the SSH upload does: a file beside it, then renamed over it, so readers never see half a file.
const WRITE_AS_USER = [
  "set -e",
  'd=$(dirname -- "$1"); b=$(basename -- "$1")',
  't="$d/.$b.opskit-$$"',
  "trap 'rm -f -- \"$t\"' EXIT",
  '(umask 077; cat > "$t")',
  'chmod "$2" "$t"',
  'mv -f -- "$t" "$1"',
  "trap - EXIT",
].join("\n");

// Mode (octal) and SHA-256 of DEST, or nothing when there is none; a directory is refused.
const STAT_AS_USER = ['if [ -d "$1" ]; then echo directory; exit 0; fi', 'if [ -f "$1" ]; then stat -L -c %a -- "$1"; sha256sum < "$1"; fi'].join("\n");

/**
 * A connection whose commands run as the become user, and whose uploads
 * write the file as that user: the content goes to a private file of the
 * login user first, which the become shell reads on its standard input
 * (so the become user needs no access to it), then it is renamed into place.
 */
export function becomeHost(host: RemoteHost, become: Become, target: string): RemoteHost {
  const asUser = (script: string, args: string[]) => becomeCommand(become, `${script}`) + (args.length > 0 ? ` sh ${words(args)}` : "");
  const limits = (options: { timeoutMs: number; signal: AbortSignal }): RunOptions => ({ timeoutMs: options.timeoutMs, signal: options.signal, maxOutputBytes: 64 * 1024 });
  return {
    ...(host.local ? { local: true } : {}),
    run: async (command, options) => checked(become, target, await host.run(...becomeRun(become, command, options))),
    async upload(content, remotePath, mode, options) {
      const hasher = new Bun.CryptoHasher("sha256");
      hasher.update(content);
      const sha256 = hasher.digest("hex");
      const wanted = (mode & 0o7777).toString(8);
      const current = checked(become, target, await host.run(asUser(STAT_AS_USER, [remotePath]), limits(options)));
      if (current.exitCode !== 0) throw copyError(target, remotePath, current.stderr);
      const [modeLine, hashLine] = current.stdout.trim().split("\n");
      if (modeLine === "directory") throw copyError(target, remotePath, "it is a directory");
      if (hashLine?.split(/\s+/)[0] === sha256 && modeLine === wanted) return { changed: false, sha256 };
      const staged = `/tmp/.opskit-become-${randomBytes(8).toString("hex")}`;
      await host.upload(content, staged, 0o600, options);
      const write = `${asUser(WRITE_AS_USER, [remotePath, wanted])} < ${shellQuote(staged)}; s=$?; rm -f -- ${shellQuote(staged)}; exit $s`;
      const written = checked(become, target, await host.run(write, limits(options)));
      if (written.exitCode !== 0) throw copyError(target, remotePath, written.stderr);
      return { changed: true, sha256 };
    },
  };
}

function copyError(target: string, path: string, stderr: string): OpsError {
  return new OpsError({ code: "E_COPY_BECOME", message: `copy to ${path} on ${target} as the become user failed: ${stderr.trim() || "no reason given"}`, exitCode: ExitCode.check });
}
