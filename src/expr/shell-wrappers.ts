/*
 * Commands that run another command given as their arguments (`sudo -u app
 * systemctl restart api`, `timeout 5 curl …`, `xargs rm`), and the shells
 * that run a script given with -c. One table for every reader of shell
 * commands: the template scanner (a value in the wrapped command's argument
 * is parsed again), the permission scan (sudo behind `nice` is still sudo)
 * and the audit's shell rules (`sudo env A=1 curl` runs curl).
 */

export interface CommandWrapper {
  name: string;
  /** Options that take the next word as their value (`sudo -u USER`); a value attached (`-uUSER`, `--user=USER`) is one word anyway. */
  valued: RegExp;
  /** Operands before the command: timeout's DURATION, chroot's NEWROOT. */
  operands: number;
  /** Runs the command as another user, root by default: counts as sudo for permissions and the policy. */
  root: boolean;
}

const noValue = /(?!)/;

const table: readonly CommandWrapper[] = [
  { name: "sudo", valued: /^-[ugCDhpRrtTU]$|^--(user|group|close-from|chdir|host|prompt|chroot|role|type|other-user|command-timeout)$/, operands: 0, root: true },
  { name: "doas", valued: /^-[uC]$/, operands: 0, root: true },
  { name: "pkexec", valued: /^--user$/, operands: 0, root: true },
  { name: "run0", valued: /^-[ugD]$|^--(user|group|nice|chdir|setenv|unit|property|description|slice|background|machine)$/, operands: 0, root: true },
  { name: "env", valued: /^-[uCS]$|^--(unset|chdir|split-string)$/, operands: 0, root: false },
  { name: "nice", valued: /^-n$|^--adjustment$/, operands: 0, root: false },
  { name: "ionice", valued: /^-[cnpPu]$|^--(class|classdata|pid|pgid|uid)$/, operands: 0, root: false },
  { name: "nohup", valued: noValue, operands: 0, root: false },
  { name: "time", valued: /^-[fo]$|^--(format|output)$/, operands: 0, root: false },
  { name: "exec", valued: /^-a$/, operands: 0, root: false },
  { name: "command", valued: noValue, operands: 0, root: false },
  { name: "builtin", valued: noValue, operands: 0, root: false },
  { name: "stdbuf", valued: /^-[ioe]$/, operands: 0, root: false },
  { name: "timeout", valued: /^-[sk]$|^--(signal|kill-after)$/, operands: 1, root: false },
  { name: "chronic", valued: noValue, operands: 0, root: false },
  { name: "setsid", valued: noValue, operands: 0, root: false },
  { name: "xargs", valued: /^-[adEILnPs]$|^--(arg-file|delimiter|max-args|max-procs|max-chars|process-slot-var)$/, operands: 0, root: false },
  { name: "chroot", valued: /^--(userspec|groups)$/, operands: 1, root: false },
  { name: "busybox", valued: noValue, operands: 0, root: false },
];

const wrappers: ReadonlyMap<string, CommandWrapper> = new Map(table.map((wrapper) => [wrapper.name, wrapper]));

/** Shells whose -c option takes a script. */
export const shells: ReadonlySet<string> = new Set(["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "csh", "tcsh"]);

const baseName = (word: string) => word.slice(word.lastIndexOf("/") + 1);

/** The wrapper a command word names (`/usr/bin/sudo` is sudo), if it is one. */
export function wrapperOf(word: string): CommandWrapper | undefined {
  return wrappers.get(baseName(word));
}

/** Whether a command word names a shell (`/bin/sh` is sh). */
export function isShell(word: string): boolean {
  return shells.has(baseName(word));
}

/**
 * Reads the words after a wrapper's name one at a time: true while a word
 * is still the wrapper's (an option, an option's value, `--`, env's NAME=value,
 * an operand such as timeout's duration), false at the command it runs.
 */
export function wrapperArguments(wrapper: CommandWrapper): (word: string) => boolean {
  let value = false;
  let optionsEnded = false;
  let operands = wrapper.operands;
  return (word) => {
    if (value) {
      value = false;
      return true;
    }
    if (!optionsEnded && word === "--") {
      optionsEnded = true;
      return true;
    }
    if (!optionsEnded && word.startsWith("-") && word.length > 1) {
      value = wrapper.valued.test(word);
      return true;
    }
    // env reads every word with = in it as an assignment, until the first without.
    if (wrapper.name === "env" && word.includes("=")) return true;
    if (operands > 0) {
      operands--;
      return true;
    }
    return false;
  };
}

/** The index of the word a wrapper at `at` runs (words.length when there is none). */
export function wrappedCommandAt(words: readonly string[], at: number): number {
  const wrapper = wrapperOf(words[at] ?? "");
  if (!wrapper) return at;
  const belongs = wrapperArguments(wrapper);
  let i = at + 1;
  while (i < words.length && belongs(words[i]!)) i++;
  return i;
}
