import { shells, wrappedCommandAt, wrapperOf } from "./shell-wrappers.ts";

/*
 * The commands that parse a value again, whatever the shell did with it:
 * `eval` and friends, a shell's `-c` script, `ssh HOST CMD`, interpreters'
 * program arguments, and bash's arithmetic places. A {{ }} in one of their
 * arguments is refused, since no quoting of the shell can help there.
 */

/** One word of a simple command: its literal characters (an interpolation reads as \0) and the interpolations in it. */
export interface CommandWord {
  text: string;
  placeholders: number[];
}

export interface CommandRefusal {
  placeholders: readonly number[];
  reason: string;
  hint: string;
}

// `time` is bash's reserved word and /usr/bin/time: read as a wrapper, so `time -p eval ...` is seen through.
const reservedWords = new Set(["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "in"]);
/** Interpreters whose program is an argument: after -c (python) or -e (perl, ruby, node), or the first operand (awk, sed, jq). */
const programAfterFlag: Record<string, string> = { python: "c", python2: "c", python3: "c", perl: "e", ruby: "e", node: "e", bun: "e", php: "r", lua: "e" };
const programOperand = new Set(["awk", "gawk", "mawk", "nawk", "sed", "jq", "yq"]);
/** Commands that hand their arguments to a shell again. */
const reparsers = new Set(["eval", "trap", ".", "source", "let", "alias", "watch", "ssh", "su", "runuser"]);
const declarers = new Set(["declare", "typeset", "local", "export", "readonly"]);
const arithmeticTests = new Set(["-eq", "-ne", "-lt", "-le", "-gt", "-ge"]);

export const hints = {
  arithmetic: "arithmetic evaluates its operands as code in bash: compute the number in the template ({{ int(vars.n) + 1 }}), or assign it to a variable and check it is a number before using it",
  parameter: 'write the value where ${...} is not needed: set a variable first (v={{ vars.x }}) and use "${v:-default}", or compute it in the template',
  quotedHeredoc: "a quoted here-document (<<'EOF') never expands: use an unquoted one (<<EOF); the value still arrives as data and is never run",
  backtickInDouble: 'use $(...) instead of backticks inside "..."',
  ansiC: "use '...' or \"...\" around the value instead of $'...'",
  afterBackslash: "remove the backslash before {{ }}: the value is already taken literally",
  afterDollar: "remove the $ before {{ }}: the value is already substituted",
  delimiter: "write the here-document delimiter as literal text",
  stdinProgram: "the text reaches a shell that runs it as a script: pass the value as an argument of the script instead (sh -s -- {{ vars.x }} <<'EOF' ... \"$1\" ... EOF), or as an environment variable it reads",
  reparse: "this command parses its argument as code again: pass the value as a positional parameter (sh -c 'echo \"$1\"' sh {{ vars.x }}), on stdin, or as an environment variable the script reads",
  subscript: "an array subscript is arithmetic in bash: use an associative array (declare -A) with a quoted key, or check the value is a number first",
};

/**
 * The interpolations of one simple command that something would parse again.
 * `integers` holds the variables declared integer so far (`declare -i n`):
 * an assignment to one is arithmetic; this call adds the ones it declares.
 */
export function reparsedArguments(words: readonly CommandWord[], integers: Set<string>): CommandRefusal[] {
  const refusals: CommandRefusal[] = [];
  if (words.length === 0) return refusals;
  const refuseIn = (list: readonly CommandWord[], reason: string, hint: string) => {
    const placeholders = list.flatMap((word) => word.placeholders);
    if (placeholders.length > 0) refusals.push({ placeholders, reason, hint });
  };
  for (const word of words) {
    if (/^[A-Za-z_][A-Za-z0-9_]*\[[^\]]*\0/.test(word.text)) refuseIn([word], "it is inside an array subscript", hints.subscript);
    const assigned = /^([A-Za-z_][A-Za-z0-9_]*)\+?=/.exec(word.text)?.[1];
    if (assigned && integers.has(assigned)) refuseIn([word], `it is assigned to ${assigned}, declared integer`, hints.arithmetic);
  }
  const name = (at: number) => words[at]?.text.split("/").at(-1) ?? "";
  // env is a wrapper too, but its -S string is split again wherever it stands (sudo env -S '...').
  for (let j = firstCommandWord(words); j < words.length; j++) if (name(j) === "env") refuseSplitString(words, j, refuseIn);
  const k = commandWordAt(words);
  const command = name(k);
  const rest = words.slice(k + 1);
  if (reparsers.has(command)) refuseIn(rest, `${command} parses its arguments as code again`, hints.reparse);
  if (declarers.has(command) && rest.some((w) => /^-[A-Za-z]*i/.test(w.text))) {
    refuseIn(rest, `${command} -i makes the assignment arithmetic`, hints.arithmetic);
    for (const word of rest) {
      const declared = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(word.text)?.[1];
      if (declared && !word.text.startsWith("-")) integers.add(declared);
    }
  }
  if (command === "[[" && rest.some((w) => arithmeticTests.has(w.text))) refuseIn(rest, "[[ ]] with -eq, -lt, ... evaluates its operands as arithmetic", hints.arithmetic);
  // Anywhere in the command: a shell's -c script, an interpreter's program (kubectl exec -- sh -c, find -exec sed ...).
  for (let j = k; j < words.length; j++) {
    const program = name(j);
    const flag = shells.has(program) ? "c" : programAfterFlag[program];
    if (flag !== undefined) {
      for (let m = j + 1; m < words.length && words[m]!.text.startsWith("-"); m++) {
        const option = words[m]!.text;
        if (!option.startsWith("--") && option.slice(1).includes(flag) && words[m + 1]) {
          refuseIn([words[m + 1]!], `it is inside the program that ${program} -${flag} runs`, hints.reparse);
          break;
        }
      }
    } else if (programOperand.has(program)) {
      let m = j + 1;
      for (; m < words.length && words[m]!.text.startsWith("-"); m++) {
        if (/^-(e|f|-expression|-file)$/.test(words[m]!.text) && words[m + 1]) {
          refuseIn([words[m + 1]!], `it is inside the program that ${program} runs`, hints.reparse);
          m = -1;
          break;
        }
      }
      if (m >= 0 && words[m]) refuseIn([words[m]!], `it is inside the program that ${program} runs`, hints.reparse);
    }
  }
  return refusals;
}

const stdinInterpreters = new Set(["python", "python2", "python3", "perl", "ruby", "node", "php", "bun", "lua"]);

/**
 * The shell or interpreter a simple command runs that reads its program from
 * standard input (`sh`, `bash -s -- ARGS`, `python3 -`), if it is one: the
 * text piped or redirected into it is code.
 */
export function stdinProgramReader(words: readonly CommandWord[]): string | undefined {
  const k = commandWordAt(words);
  const name = words[k]?.text.split("/").at(-1) ?? "";
  const shell = shells.has(name);
  if (!shell && !stdinInterpreters.has(name)) return undefined;
  for (const word of words.slice(k + 1)) {
    const text = word.text;
    if (text === "-" || (shell && /^-[A-Za-z]*s[A-Za-z]*$/.test(text))) return name;
    if (/^-[A-Za-z]*c/.test(text) && shell) return undefined;
    if (text === "--") return shell ? undefined : name;
    if (text.startsWith("-") || (shell && text.startsWith("+"))) continue;
    // An operand: the script file it runs.
    return undefined;
  }
  return name;
}

/** Clients whose arguments carry a program of their own: a query, a command run elsewhere. */
const programClients = new Set(["psql", "mysql", "mariadb", "sqlite3", "clickhouse-client", "mongosh", "mongo", "redis-cli", "cqlsh", "sqlcmd"]);
/** Tools whose `exec` or `run` runs the rest of the words as a command in a container or pod. */
const containerTools = new Set(["kubectl", "oc", "docker", "podman", "nerdctl", "crictl"]);

/**
 * Interpolations in arguments that the command hands to a program of its own
 * (`psql -c {{ vars.sql }}`, `kubectl exec pod -- {{ vars.cmd }}`): the shell
 * keeps them data, but what they say is done. opskit does not refuse them;
 * the audit's policy check reads them as able to render to anything.
 */
export function programArguments(words: readonly CommandWord[]): number[] {
  const k = commandWordAt(words);
  const name = words[k]?.text.split("/").at(-1) ?? "";
  const rest = words.slice(k + 1);
  if (programClients.has(name) || (containerTools.has(name) && rest.some((w) => w.text === "exec" || w.text === "run"))) return rest.flatMap((w) => w.placeholders);
  return [];
}

/** The first word after reserved words and assignments. */
function firstCommandWord(words: readonly CommandWord[]): number {
  let k = 0;
  while (k < words.length && (reservedWords.has(words[k]!.text) || /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(words[k]!.text))) k++;
  return k;
}

/** The index of the word naming the command a simple command runs: behind wrappers, `sudo -u x env A=1 timeout 5 eval ...` runs eval. */
export function commandWordAt(words: readonly CommandWord[]): number {
  let k = firstCommandWord(words);
  const texts = words.map((word) => word.text);
  while (k < words.length && wrapperOf(texts[k]!)) k = wrappedCommandAt(texts, k);
  return k;
}

/**
 * `env -S STRING` (--split-string) splits its string into a command line
 * with quoting and ${VAR} expansion of its own: a value there becomes
 * arguments, or the command.
 */
function refuseSplitString(words: readonly CommandWord[], at: number, refuseIn: (list: readonly CommandWord[], reason: string, hint: string) => void): void {
  for (let m = at + 1; m < words.length && words[m]!.text.startsWith("-") && words[m]!.text !== "--"; m++) {
    const option = words[m]!.text;
    const reason = "env -S splits its string into a command line again";
    if ((option === "-S" || option === "--split-string") && words[m + 1]) refuseIn([words[m + 1]!], reason, hints.reparse);
    else if (/^-[^-]*S/.test(option) || option.startsWith("--split-string=")) refuseIn([words[m]!], reason, hints.reparse);
  }
}
