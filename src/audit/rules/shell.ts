import { lineStarts, positionOf } from "../position.ts";
import { branchEncloses, isReserved, parseShell, type ShellScript, type SimpleCommand, type Word } from "../shell-syntax.ts";
import { commandCore, expansionsOf, isAssignment, unquote, type CommandCore } from "../shell-words.ts";
import type { Hit, Rule, RuleSet, SourceFile } from "../types.ts";
import { classifySecret, scanSecretPatterns, secretRules } from "./secrets.ts";

/*
 * Risky ops patterns in shell scripts. Each check reads the parsed commands
 * (quoting, pipelines, loops and here-documents known), not raw lines, so a
 * pattern inside a string, a comment or a here-document is not reported.
 * What ShellCheck already checks (quoting in general, cd without a guard,
 * syntax) is left to it.
 */

export const rules: readonly Rule[] = [
  {
    id: "OPS-SH-001",
    severity: "error",
    title: "download piped to a shell",
    why: "The script runs whatever the server (or anyone between) returns at that moment, unreviewed and unpinned; a truncated download runs half a script.",
    fix: "Download to a file, verify its checksum or signature, then run it; or install from a package repository.",
  },
  {
    id: "OPS-SH-002",
    severity: "error",
    title: "rm -rf on an unguarded variable",
    why: "If the variable is empty or unset, `rm -rf \"$DIR\"/*` deletes /*; unquoted, a value with spaces or globs deletes other paths.",
    fix: 'Quote it and fail on empty: rm -rf -- "${DIR:?}"/*',
    supersedes: ["SC2115"],
  },
  {
    id: "OPS-SH-003",
    severity: "error",
    title: "SSH host key checking disabled",
    why: "StrictHostKeyChecking=no or UserKnownHostsFile=/dev/null accepts any host key, so a man in the middle gets the session and its credentials.",
    fix: "Pin host keys in a known_hosts file (ssh-keyscan once, review, commit) or use StrictHostKeyChecking=accept-new.",
  },
  {
    id: "OPS-SH-004",
    severity: "warning",
    title: "chmod 777",
    why: "World-writable files and directories let any local user or compromised service replace what root later runs or reads.",
    fix: "Grant the owner or a group what it needs: chmod 750 (directories) or 640 (files), with chown/chgrp.",
  },
  {
    id: "OPS-SH-005",
    severity: "warning",
    title: "no set -e",
    why: "Without errexit a failed command is ignored and the next ones run on a half-done state (a failed cd before rm, a failed download before install).",
    fix: "Start the script with set -eu (bash: set -euo pipefail) and handle expected failures with `|| true` or `if`.",
  },
  {
    id: "OPS-SH-006",
    severity: "warning",
    title: "sudo without -n",
    why: "Unattended (cron, CI, opskit exec) a sudo that needs a password waits on a prompt nobody answers until something times out.",
    fix: "Use sudo -n (fails at once when a password would be needed) and grant the exact command NOPASSWD in sudoers.",
  },
  {
    id: "OPS-SH-007",
    severity: "warning",
    title: "eval of a variable",
    why: "eval runs the variable's contents as code: any shell syntax that reaches it (a file name, a label, command output) is executed.",
    fix: "Call the command directly with quoted arguments, use an array (bash), or a case over the allowed values.",
  },
  {
    id: "OPS-SH-008",
    severity: "warning",
    title: "network call in a loop without a timeout",
    why: "In a loop over hosts or URLs, one unreachable or stalled peer holds up every iteration after it, for minutes per call.",
    fix: "Bound each call: ssh -o ConnectTimeout=10, curl --max-time 30, wget --timeout=30, or wrap it in timeout 60.",
  },
  ...secretRules,
];

const shells = new Set(["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "busybox"]);
const downloaders = new Set(["curl", "wget"]);
const fetchInside = /(\$\(|`|<\()\s*(?:\S*\/)?(curl|wget)\b/;
const hostKeyOff = /StrictHostKeyChecking\s*[= ]\s*['"]?(no|off)\b|UserKnownHostsFile\s*[= ]\s*['"]?\/dev\/null\b/i;

interface Scan {
  file: SourceFile;
  script: ShellScript;
  starts: number[];
  hits: Hit[];
  /** Variables assigned only non-empty literals in the file: never empty. */
  constants: Set<string>;
  /** Variables guarded with ${X:?}: where each guard is and the branch it runs in. */
  guarded: Map<string, { offset: number; branch: string }[]>;
}

function check(file: SourceFile): Hit[] {
  const script = parseShell(file.text);
  const scan: Scan = { file, script, starts: lineStarts(file.text), hits: [], constants: constantVariables(script), guarded: guardedVariables(script) };
  const pipelines = new Map<number, SimpleCommand[]>();
  for (const command of script.commands) {
    const core = commandCore(command.words);
    const list = pipelines.get(command.pipeline) ?? [];
    list.push(command);
    pipelines.set(command.pipeline, list);
    for (const checkCommand of commandChecks) checkCommand(scan, command, core);
  }
  for (const list of pipelines.values()) checkPipeToShell(scan, list);
  checkHeredocs(scan);
  checkErrexit(scan);
  const lines = file.text.split("\n");
  scan.hits.push(...scanSecretPatterns(lines));
  return scan.hits;
}

type CommandCheck = (scan: Scan, command: SimpleCommand, core: CommandCore) => void;

/** The checks that look at one simple command at a time (the others need the whole script). */
const commandChecks: CommandCheck[] = [checkShellFetch, checkRemove, checkChmod, checkSudo, checkEval, checkLoopTimeout, checkAssignments, checkHostKeyWords];

function hit(scan: Scan, rule: string, offset: number, message: string, redact?: { offset: number; length: number }): void {
  const { line, column } = positionOf(scan.starts, offset);
  const found: Hit = { rule, line, column, message };
  if (redact) found.redact = { column: positionOf(scan.starts, redact.offset).column, length: redact.length };
  scan.hits.push(found);
}

const args = (command: SimpleCommand, core: CommandCore) => command.words.slice(core.index + 1);

/** `curl URL | sh`, `wget -O- URL | sudo bash`. */
function checkPipeToShell(scan: Scan, pipeline: SimpleCommand[]): void {
  if (pipeline.length < 2) return;
  pipeline.sort((a, b) => a.position - b.position);
  const cores = pipeline.map((c) => commandCore(c.words));
  const fetch = cores.findIndex((c) => downloaders.has(c.name));
  if (fetch < 0) return;
  for (let i = fetch + 1; i < pipeline.length; i++) {
    if (shells.has(cores[i]!.name) && readsStdin(args(pipeline[i]!, cores[i]!))) {
      const from = pipeline[fetch]!;
      hit(scan, "OPS-SH-001", from.words[cores[fetch]!.index]!.start, `${cores[fetch]!.name} output piped into ${cores[i]!.name}: runs whatever the server returns`);
      return;
    }
  }
}

/** A shell given no script file (or -s, or -) runs its standard input. */
function readsStdin(words: Word[]): boolean {
  for (const word of words) {
    const value = unquote(word.raw);
    if (value === "-s" || value === "-" || value === "--") return true;
    if (value === "-c" || value === "-n") return false;
    if (!value.startsWith("-") && !value.startsWith("+")) return false;
  }
  return true;
}

/** `bash <(curl ...)`, `sh -c "$(curl ...)"`, `eval "$(wget -qO- ...)"`. */
function checkShellFetch(scan: Scan, command: SimpleCommand, core: CommandCore): void {
  if (!shells.has(core.name) && core.name !== "eval" && core.name !== "source" && core.name !== ".") return;
  for (const word of args(command, core)) {
    const match = fetchInside.exec(word.raw);
    if (match) {
      hit(scan, "OPS-SH-001", word.start + match.index, `${core.name} runs the output of ${match[2]} directly: runs whatever the server returns`);
      return;
    }
  }
}

const systemPath = /^\/*(?:(?:bin|boot|dev|etc|home|lib|lib32|lib64|opt|root|sbin|srv|usr|var)\/*)?(?:\*|\.\*|\.\[[^\]]*\]\*)?\/*$/;

/** `rm -rf $DIR/`, `rm -rf "$X"/*` without ${X:?}. */
function checkRemove(scan: Scan, command: SimpleCommand, core: CommandCore): void {
  if (core.name !== "rm") return;
  const words = args(command, core);
  let recursive = false;
  let force = false;
  let options = true;
  const operands: Word[] = [];
  for (const word of words) {
    const value = unquote(word.raw);
    if (options && value === "--") options = false;
    else if (options && /^-[a-zA-Z]+$/.test(value)) {
      recursive ||= /[rR]/.test(value);
      force ||= value.includes("f");
    } else if (options && value.startsWith("--")) {
      recursive ||= value === "--recursive";
      force ||= value === "--force";
    } else operands.push(word);
  }
  if (!recursive || !force) return;
  for (const word of operands) {
    // A guard protects the commands after it on every path through it: not a sibling case item's or else arm's.
    const guardedBefore = (name: string) => (scan.guarded.get(name) ?? []).some((g) => g.offset < word.start && branchEncloses(g.branch, command.branch));
    const all = expansionsOf(word.raw);
    const expansions = all.filter((e) => !e.safe && !scan.constants.has(e.name) && !guardedBefore(e.name) && !testedBefore(scan, command, e.name));
    const unquoted = expansions.find((e) => !e.quoted);
    if (unquoted) {
      hit(scan, "OPS-SH-002", word.start + unquoted.at, `rm -rf on unquoted ${word.raw.slice(unquoted.at, unquoted.end)}: empty, it changes the path; with spaces or globs, it deletes other paths`);
      continue;
    }
    if (expansions.length === 0) continue;
    // With every unguarded expansion empty, what path is left?
    let left = "";
    let last = 0;
    for (const e of all) {
      left += unquote(word.raw.slice(last, e.at)) + (expansions.includes(e) ? "" : "x");
      last = e.end;
    }
    left += unquote(word.raw.slice(last));
    if (left !== "" && systemPath.test(left)) {
      const first = expansions[0]!;
      hit(scan, "OPS-SH-002", word.start + first.at, `rm -rf ${word.raw} deletes ${left.replace(/\/+/g, "/")} when ${first.name} is empty or unset`);
    }
  }
}

/** `[ -n "$X" ] && rm -rf "$X"/*`: a test of the variable earlier in the same && list. */
function testedBefore(scan: Scan, command: SimpleCommand, name: string): boolean {
  const commands = scan.script.commands;
  let i = commands.indexOf(command);
  while (i > 0 && commands[i]!.before === "&&") {
    const previous = commands[--i]!;
    const text = previous.words.map((w) => w.raw).join(" ");
    if (/^(\[\[?|test)\s/.test(text) && new RegExp(`-[ndefz]\\s+"?\\$\\{?${name}\\b`).test(text)) return true;
  }
  return false;
}

function checkChmod(scan: Scan, command: SimpleCommand, core: CommandCore): void {
  if (core.name !== "chmod") return;
  for (const word of args(command, core)) {
    const value = unquote(word.raw);
    if (value.startsWith("-")) continue;
    if (/^0?777$/.test(value) || /^(a|ugo)[+=]rwx$/.test(value)) hit(scan, "OPS-SH-004", word.start, `chmod ${value} makes it writable by every user`);
    return;
  }
}

function checkSudo(scan: Scan, _command: SimpleCommand, core: CommandCore): void {
  if (core.name === "") return;
  for (const wrapper of core.wrappers) {
    if (wrapper.name !== "sudo") continue;
    const options = wrapper.words.slice(1).map((w) => unquote(w.raw));
    if (!options.some((o) => /^-[a-zA-Z]*n/.test(o) || o === "--non-interactive")) {
      hit(scan, "OPS-SH-006", wrapper.words[0]!.start, `sudo ${core.name} without -n waits for a password when none can be typed`);
    }
  }
}

function checkEval(scan: Scan, command: SimpleCommand, core: CommandCore): void {
  if (core.name !== "eval") return;
  const words = args(command, core);
  // eval set -- "$(getopt ...)" is getopt's documented idiom: its output is quoted for eval.
  if (words[0] && /^set(\s|$)/.test(unquote(words[0].raw))) return;
  for (const word of words) {
    const variable = expansionsOf(word.raw).find((e) => e.name !== "$(…)");
    if (variable) {
      hit(scan, "OPS-SH-007", word.start + variable.at, `eval runs the contents of $${variable.name} as shell code`);
      return;
    }
  }
}

function checkLoopTimeout(scan: Scan, command: SimpleCommand, core: CommandCore): void {
  if (!command.inLoop || (core.name !== "ssh" && !downloaders.has(core.name))) return;
  if (core.wrappers.some((w) => w.name === "timeout")) return;
  const words = args(command, core).map((w) => unquote(w.raw));
  const bounded =
    core.name === "ssh"
      ? words.some((w) => /ConnectTimeout/i.test(w))
      : core.name === "curl"
        ? words.some((w) => w === "--max-time" || w.startsWith("--max-time=") || /^-[a-zA-Z]*m/.test(w))
        : words.some((w) => /^--(read-)?timeout(=|$)/.test(w) || /^-[a-zA-Z]*T/.test(w));
  if (bounded) return;
  const needs = core.name === "ssh" ? "-o ConnectTimeout=" : core.name === "curl" ? "--max-time" : "--timeout";
  hit(scan, "OPS-SH-008", command.words[core.index]!.start, `${core.name} inside a loop without ${needs}: one stalled peer holds up the whole loop`);
}

function checkHostKeyWords(scan: Scan, command: SimpleCommand): void {
  for (const word of command.words) {
    if (!word.raw.includes("nown") && !word.raw.includes("ostKey")) continue;
    const match = hostKeyOff.exec(word.raw);
    if (match) {
      hit(scan, "OPS-SH-003", word.start + match.index, `${match[0].replace(/['"]/g, "").replace(/\s+/g, " ")} accepts any host key`);
      return;
    }
  }
}

/** Here-documents are data, but an ssh_config or an env file written from one still counts. */
function checkHeredocs(scan: Scan): void {
  const { text } = scan.file;
  for (const [start, end] of scan.script.heredocs) {
    let at = start;
    for (const line of text.slice(start, end).split("\n")) {
      const hostKey = hostKeyOff.exec(line);
      if (hostKey && !/^\s*#/.test(line)) hit(scan, "OPS-SH-003", at + hostKey.index, `${hostKey[0].replace(/\s+/g, " ")} accepts any host key`);
      const assigned = /^\s*(?:export\s+)?([A-Za-z_][\w.-]*)\s*[=:]\s*(["']?)([^"'\s#]+)\2\s*$/.exec(line);
      if (assigned) {
        const secret = classifySecret(assigned[1]!, assigned[3]!);
        const offset = at + line.lastIndexOf(assigned[3]!);
        if (secret) hit(scan, secret.rule, at + line.indexOf(assigned[1]!), secret.message, { offset, length: assigned[3]!.length });
      }
      at += line.length + 1;
    }
  }
}

const declarers = new Set(["export", "local", "readonly", "declare", "typeset"]);

/** NAME=literal, export NAME=literal, --password=literal. */
function checkAssignments(scan: Scan, command: SimpleCommand, core: CommandCore): void {
  const candidates = core.name === "" || declarers.has(core.name) ? command.words : command.words.slice(0, Math.max(core.index, 0));
  for (const word of candidates) if (isAssignment(word.raw)) checkSecretWord(scan, word, word.raw.indexOf("="));
  if (core.index < 0) return;
  for (const word of args(command, core)) {
    const option = /^--?([A-Za-z][\w-]*)=/.exec(word.raw);
    if (option) checkSecretWord(scan, word, option[0].length - 1);
  }
}

function checkSecretWord(scan: Scan, word: Word, eq: number): void {
  const name = word.raw.slice(0, eq).replace(/^-+/, "").replace(/\[.*$/, "").replace(/\+$/, "");
  const rawValue = word.raw.slice(eq + 1);
  if (rawValue === "" || expansionsOf(rawValue).length > 0 || rawValue.includes("`")) return;
  const secret = classifySecret(name, unquote(rawValue));
  if (secret) hit(scan, secret.rule, word.start, secret.message, { offset: word.start + eq + 1, length: rawValue.length });
}

/** Variables every assignment of which is a non-empty literal (and that no loop, read or getopts sets). */
function constantVariables(script: ShellScript): Set<string> {
  const literal = new Map<string, boolean>();
  const mark = (name: string, isLiteral: boolean) => literal.set(name, (literal.get(name) ?? true) && isLiteral);
  for (const command of script.commands) {
    const core = commandCore(command.words);
    // A loop's variable, also behind reserved words (`do for h in ...`).
    const name = command.words.findIndex((w) => !isReserved(w.raw));
    const opener = command.words[name - 1]?.raw;
    if (name > 0 && (opener === "for" || opener === "select")) mark(command.words[name]!.raw, false);
    if (core.name === "read" || core.name === "getopts" || core.name === "mapfile") for (const w of args(command, core)) mark(w.raw, false);
    const assigning = core.name === "" || declarers.has(core.name) ? command.words : [];
    for (const word of assigning) {
      if (!isAssignment(word.raw)) continue;
      const eq = word.raw.indexOf("=");
      const value = word.raw.slice(eq + 1);
      const unquoted = unquote(value);
      mark(word.raw.slice(0, eq).replace(/\+$/, ""), unquoted !== "" && expansionsOf(value).length === 0 && !value.includes("`") && !/[\s*?[]/.test(unquoted));
    }
  }
  return new Set([...literal].filter(([, isLiteral]) => isLiteral).map(([name]) => name));
}

/**
 * `: "${DIR:?}"` guards DIR for the commands that run after it: the shell
 * exits there when DIR is empty or unset. Inside $( ) it would end only the
 * subshell, so guards there do not count.
 */
function guardedVariables(script: ShellScript): Map<string, { offset: number; branch: string }[]> {
  const names = new Map<string, { offset: number; branch: string }[]>();
  for (const command of script.commands) {
    if (command.substituted) continue;
    for (const word of command.words) {
      if (!word.raw.includes("?")) continue;
      for (const e of expansionsOf(word.raw)) {
        if (!/^\$\{[A-Za-z_]\w*:?\?/.test(word.raw.slice(e.at, e.end))) continue;
        const list = names.get(e.name) ?? [];
        list.push({ offset: word.start + e.at, branch: command.branch });
        names.set(e.name, list);
      }
    }
  }
  return names;
}

const quiet = new Set([":", "true", "false", "echo", "printf", "exit", "return", "set", "shift", "local", "export", "readonly", "declare", "typeset", "unset", "trap", "source", ".", "test", "[", "[[", "read", "umask", "alias", "unalias", "shopt", "getopts", "wait", "break", "continue", "eval", "let", "hash", "type", "command", "setopt", "emulate", "exec", "usage"]);

/** A script that runs commands whose failure nothing notices, without set -e or an equivalent. */
function checkErrexit(scan: Scan): void {
  const { text } = scan.file;
  const shebang = /^#!.*/.exec(text)?.[0];
  // A file without #! is sourced by another script, which decides.
  if (!shebang || /\s-[a-zA-Z]*e/.test(shebang.replace(/^#!\s*\S+/, ""))) return;
  const top = scan.script.commands.filter((c) => !c.substituted);
  for (const command of top) {
    const core = commandCore(command.words);
    const words = command.words.map((w) => unquote(w.raw));
    if (core.name === "set" && words.slice(core.index + 1).some((w, i, all) => /^-[a-zA-Z]*e/.test(w) || (w === "-o" && all[i + 1] === "errexit"))) return;
    if (core.name === "setopt" && words.some((w) => /^err_?exit$/i.test(w))) return;
  }
  const last = top.findLast((c) => commandCore(c.words).name !== "");
  const unchecked = top.filter((command) => {
    const core = commandCore(command.words);
    if (core.name === "" || quiet.has(core.name) || core.wrappers.some((w) => w.name === "exec")) return false;
    // The last command's status is the script's: its failure is not lost.
    if (command === last || command.after === "|" || command.after === "&" || command.after === "&&" || command.after === "||" || command.before === "&&" || command.before === "||") return false;
    const first = command.words[0]!.raw;
    return first !== "if" && first !== "elif" && first !== "while" && first !== "until" && first !== "!";
  });
  const first = unchecked[0];
  if (!first) return;
  const core = commandCore(first.words);
  const later = unchecked.length - 1;
  const more = later === 0 ? "" : later === 1 ? " or 1 later command" : ` or any of ${later} later commands`;
  hit(scan, "OPS-SH-005", first.words[core.index]!.start, `no set -e: when ${core.name}${more} fails, the script carries on`);
}

export const shellRules: RuleSet = { language: "shell", rules, check };
