import { isShell, wrapperArguments, wrapperOf } from "../expr/index.ts";

// A scan of shell command lines for the commands they run, behind which
// wrappers (and so whether one runs as root): what permissions, the org
// policy and `opskit audit --policy` match against. The wrappers are the
// template scanner's and the audit's table (expr/shell-wrappers.ts).

/** Words that leave the next word in command position (`if sudo …`, `! sudo …`). */
const keywords = new Set(["!", "{", "if", "then", "else", "elif", "do", "while", "until"]);

export interface ScannedCommand {
  /** The command every simple command runs, unquoted, in order, behind its wrappers: `a; sudo -u x b | c $(d)` gives a, b, c, d. */
  commands: string[];
  /** The wrappers in front of them, unquoted as written: `sudo -u x nice b` gives sudo, nice. */
  wrappers: string[];
  /** The command with its quoting removed and blanks collapsed (`systemctl  restart 'api'` reads systemctl restart api). */
  unquoted: string;
}

interface ScanState {
  word: string;
  inWord: boolean;
  atCommand: boolean;
  /** After a wrapper: whether a word is still its own (an option, a value, an operand). */
  wrapper: ((word: string) => boolean) | undefined;
  redirect: boolean;
  /** sh -c: "shell" after a shell, "script" after its -c. */
  shell: "none" | "shell" | "script";
  quote: "'" | '"' | null;
  /** Open subshell parentheses inside the current $( ), so that its own ) is found. */
  parens: number;
}

/**
 * Reads a POSIX shell command the way the shell splits it, far enough to
 * know which command each simple command runs: after the start, `;`, `&`,
 * `&&`, `|`, `||`, a newline, `(`, `$(` and backticks, past assignments,
 * keywords and wrappers such as sudo, env or xargs (with their options), and
 * into `sh -c '…'`.
 * A tripwire, not a sandbox: a script or an allowed binary can still reach
 * root, which is why `commands` is an allow-list.
 */
export function scanCommand(command: string, depth = 0): ScannedCommand {
  const commands: string[] = [];
  const wrappers: string[] = [];
  let unquoted = "";
  const fresh = (): ScanState => ({ word: "", inWord: false, atCommand: true, wrapper: undefined, redirect: false, shell: "none", quote: null, parens: 0 });
  let s = fresh();
  const frames: { state: ScanState; close: ")" | "`" }[] = [];

  const endWord = () => {
    if (!s.inWord) return;
    const word = s.word;
    s.word = "";
    s.inWord = false;
    if (s.redirect) {
      s.redirect = false;
      return;
    }
    if (s.atCommand) {
      if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(word) || keywords.has(word)) return;
      if (s.wrapper?.(word)) return;
      const wrapper = wrapperOf(word);
      if (wrapper) {
        wrappers.push(word);
        s.wrapper = wrapperArguments(wrapper);
        return;
      }
      commands.push(word);
      s.atCommand = false;
      s.wrapper = undefined;
      s.shell = isShell(word) ? "shell" : "none";
      return;
    }
    if (s.shell === "script" && depth < 4) {
      const inner = scanCommand(word, depth + 1);
      commands.push(...inner.commands);
      wrappers.push(...inner.wrappers);
      s.shell = "none";
    } else if (s.shell === "shell" && /^-[A-Za-z]*c[A-Za-z]*$/.test(word)) {
      s.shell = "script";
    }
  };
  const startCommand = () => {
    endWord();
    s.atCommand = true;
    s.wrapper = undefined;
    s.redirect = false;
    s.shell = "none";
  };
  const open = (close: ")" | "`") => {
    frames.push({ state: s, close });
    s = fresh();
  };
  const close = () => {
    endWord();
    s = frames.pop()!.state;
    // What a substitution prints is unknown: the word it sits in can no longer read "sudo".
    s.word += "$(…)";
    s.inWord = true;
  };
  const append = (c: string) => {
    s.word += c;
    s.inWord = true;
    unquoted += c;
  };

  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    const next = command[i + 1];
    if (s.quote === "'") {
      if (c === "'") s.quote = null;
      else append(c);
      continue;
    }
    if (c === "\\") {
      if (next === undefined) continue;
      i++;
      if (next === "\n") continue;
      // Inside double quotes a backslash escapes only \ " $ ` and itself stays otherwise.
      if (s.quote === '"' && !'\\"$`'.includes(next)) append(c);
      append(next);
      continue;
    }
    if (c === "$" && next === "(") {
      unquoted += "$(";
      i++;
      open(")");
      continue;
    }
    if (c === "`") {
      unquoted += c;
      if (s.quote === null && frames.at(-1)?.close === "`") close();
      else open("`");
      continue;
    }
    if (s.quote === '"') {
      if (c === '"') s.quote = null;
      else append(c);
      continue;
    }
    if (c === "'" || c === '"') {
      s.quote = c;
      s.inWord = true;
      continue;
    }
    if (c === ")" && s.parens === 0 && frames.at(-1)?.close === ")") {
      unquoted += c;
      close();
      continue;
    }
    if (c === "#" && !s.inWord) {
      const end = command.indexOf("\n", i);
      unquoted += command.slice(i, end < 0 ? undefined : end);
      i = end < 0 ? command.length : end - 1;
      continue;
    }
    if (/[;&|\n()]/.test(c)) {
      unquoted += c;
      if (c === ")") {
        s.parens = Math.max(0, s.parens - 1);
        endWord();
      } else {
        if (c === "(") s.parens++;
        startCommand();
      }
      continue;
    }
    if (c === "<" || c === ">") {
      // `2>&1`: the 2 is a file descriptor, not a word.
      if (s.inWord && /^\d+$/.test(s.word)) {
        s.word = "";
        s.inWord = false;
      }
      endWord();
      unquoted += c;
      while (command[i + 1] !== undefined && "<>&|".includes(command[i + 1]!)) unquoted += command[++i];
      s.redirect = true;
      continue;
    }
    if (c === " " || c === "\t") {
      // Runs of blanks read as one, so `rm  -rf` cannot step around a deny glob.
      if (!unquoted.endsWith(" ")) unquoted += " ";
      endWord();
      continue;
    }
    append(c);
  }
  endWord();
  while (frames.length > 0) close();
  endWord();
  return { commands, wrappers, unquoted };
}

/** The root-running wrapper (sudo, doas, …) a shell command calls, if any. */
export function sudoIn(command: string): string | undefined {
  return scanCommand(command).wrappers.find((word) => wrapperOf(word)?.root)?.split("/").at(-1);
}

/** The ssh action puts `env:` on the command line (`export A='x' ; cmd`); permissions are about the cmd. */
export const sshExports = /^export (?:[A-Za-z_][A-Za-z0-9_]*='(?:[^']|'\\'')*' )+; /;
