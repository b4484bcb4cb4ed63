// Globs over command lines and URLs, and a scan of shell command lines for the
// commands they run (and whether one runs as root): what permissions, the
// org policy and `opskit audit --policy` match against.

// ---------------------------------------------------------------------------
// Globs

type GlobToken = { any: true } | { one: true } | { char: string };

function globTokens(pattern: string): GlobToken[] {
  const chars = Array.from(pattern);
  const tokens: GlobToken[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const next = chars[i + 1];
    // Only \*, \? and \\ are escapes: any other backslash (grep 'a\|b') is itself.
    if (c === "\\" && (next === "*" || next === "?" || next === "\\")) {
      tokens.push({ char: next });
      i++;
    } else if (c === "*") {
      if (!("any" in (tokens.at(-1) ?? {}))) tokens.push({ any: true });
    } else if (c === "?") tokens.push({ one: true });
    else tokens.push({ char: c });
  }
  return tokens;
}

/**
 * Whether a glob matches the whole text, both trimmed: `*` is any run of
 * characters (spaces and slashes included), `?` one character, `\*` and
 * `\?` themselves. Greedy with one backtrack point, so a long command
 * against many stars stays linear-ish, with no regular expression to blow up.
 */
export function matchGlob(pattern: string, text: string): boolean {
  const p = globTokens(pattern.trim());
  const t = Array.from(text.trim());
  let pi = 0;
  let ti = 0;
  let star = -1;
  let starText = 0;
  while (ti < t.length) {
    const token = p[pi];
    if (token && ("one" in token || ("char" in token && token.char === t[ti]))) {
      pi++;
      ti++;
    } else if (token && "any" in token) {
      star = pi++;
      starText = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++starText;
    } else {
      return false;
    }
  }
  while (pi < p.length && "any" in p[pi]!) pi++;
  return pi === p.length;
}

// ---------------------------------------------------------------------------
// Shell commands

/** Words that leave the next word in command position (`if sudo …`, `env X=1 sudo …`, `xargs sudo …`). */
const keywords = new Set(["!", "{", "if", "then", "else", "elif", "do", "while", "until"]);
const wrappers = new Set(["time", "exec", "command", "builtin", "env", "nohup", "nice", "ionice", "xargs", "timeout", "setsid", "stdbuf"]);
const shells = new Set(["sh", "bash", "dash", "zsh", "ksh", "ash"]);
/** Commands that run what follows as root: all of them count as sudo. */
const rootCommands = new Set(["sudo", "doas", "pkexec", "run0"]);

export interface ScannedCommand {
  /** The first word of every simple command, unquoted, in order: `a; b | c $(d)` gives a, b, c, d. */
  commands: string[];
  /** The command with its quoting removed and blanks collapsed (`systemctl  restart 'api'` reads systemctl restart api). */
  unquoted: string;
}

interface ScanState {
  word: string;
  inWord: boolean;
  atCommand: boolean;
  afterWrapper: boolean;
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
 * keywords and wrappers such as env or xargs, and into `sh -c '…'`.
 * A tripwire, not a sandbox: a script or an allowed binary can still reach
 * root, which is why `commands` is an allow-list.
 */
export function scanCommand(command: string, depth = 0): ScannedCommand {
  const commands: string[] = [];
  let unquoted = "";
  const fresh = (): ScanState => ({ word: "", inWord: false, atCommand: true, afterWrapper: false, redirect: false, shell: "none", quote: null, parens: 0 });
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
      if (s.afterWrapper && /^-|^\d/.test(word)) return;
      if (wrappers.has(word)) {
        s.afterWrapper = true;
        return;
      }
      commands.push(word);
      s.atCommand = false;
      s.afterWrapper = false;
      s.shell = shells.has(word.split("/").at(-1)!) ? "shell" : "none";
      return;
    }
    if (s.shell === "script" && depth < 4) {
      commands.push(...scanCommand(word, depth + 1).commands);
      s.shell = "none";
    } else if (s.shell === "shell" && /^-[A-Za-z]*c[A-Za-z]*$/.test(word)) {
      s.shell = "script";
    }
  };
  const startCommand = () => {
    endWord();
    s.atCommand = true;
    s.afterWrapper = false;
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
  return { commands, unquoted };
}

/** The root-running command (sudo, doas, …) a shell command calls, if any. */
export function sudoIn(command: string): string | undefined {
  return scanCommand(command).commands.map((word) => word.split("/").at(-1)!).find((name) => rootCommands.has(name));
}

/** The ssh action puts `env:` on the command line (`export A='x' ; cmd`); permissions are about the cmd. */
export const sshExports = /^export (?:[A-Za-z_][A-Za-z0-9_]*='(?:[^']|'\\'')*' )+; /;
