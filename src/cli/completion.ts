// `opskit completion bash|zsh|fish`: completion scripts generated from the
// same command tables that parse the command line, so a new command or
// option completes as soon as it exists. Hidden options are left out.
import { ExitCode, usageError } from "../errors.ts";
import { shells } from "./completion-spec.ts";
import { flagName, type CommandSpec, type OptionSpec } from "./options.ts";

/** What a value or an operand completes to. */
type Values = { kind: "none" } | { kind: "words"; words: readonly string[] } | { kind: "files" } | { kind: "dirs" };

interface Flag {
  long: string;
  short?: string;
  description: string;
  takesValue: boolean;
  repeatable: boolean;
  values: Values;
  placeholder: string;
}

interface CompletedCommand {
  name: string;
  description: string;
  flags: Flag[];
  subcommands: readonly string[];
  operands: Values;
}

/** A value placeholder that names a file or directory completes to paths. */
function valuesOf(option: OptionSpec): Values {
  if (option.kind === "choice") return { kind: "words", words: option.choices };
  if (option.kind === "boolean" || option.kind === "count") return { kind: "none" };
  if (/^dir/.test(option.value)) return { kind: "dirs" };
  return /file|path|\.ya?ml$/.test(option.value) ? { kind: "files" } : { kind: "none" };
}

function operandsOf(spec: CommandSpec): Values {
  const name = spec.argument?.name ?? "";
  return /path|file|script|args/.test(name) && !spec.subcommands ? { kind: "files" } : { kind: "none" };
}

/** The first clause of a description: completion menus show one short line. */
function summary(description: string): string {
  const first = description.split("; ")[0]!;
  return first.length > 90 ? `${first.slice(0, 89)}…` : first;
}

export function completedCommands(specs: readonly CommandSpec[]): CompletedCommand[] {
  return specs.map((spec) => ({
    name: spec.name,
    description: summary(spec.description),
    subcommands: spec.subcommands ?? [],
    operands: operandsOf(spec),
    flags: Object.entries(spec.options)
      .filter(([, option]) => !option.hidden)
      .map(([key, option]) => ({
        long: `--${flagName(key)}`,
        ...(option.short ? { short: `-${option.short}` } : {}),
        description: summary(option.description),
        takesValue: option.kind !== "boolean" && option.kind !== "count",
        repeatable: option.kind === "list" || option.kind === "count",
        values: valuesOf(option),
        placeholder: option.kind === "boolean" || option.kind === "count" ? "" : option.kind === "choice" ? "value" : option.value,
      })),
  }));
}

const spellings = (flag: Flag) => (flag.short ? [flag.short, flag.long] : [flag.long]);

function bashValues(values: Values): string {
  switch (values.kind) {
    case "words":
      return `_opskit_reply "$(compgen -W '${values.words.join(" ")}' -- "$cur")"`;
    case "files":
      return "_opskit_files -f";
    case "dirs":
      return "_opskit_files -d";
    case "none":
      return "COMPREPLY=()";
  }
}

export function bashScript(commands: readonly CompletedCommand[]): string {
  const cases = commands.map((command) => {
    const valueFlags = command.flags.filter((flag) => flag.takesValue);
    const valueCases = valueFlags.map((flag) => `        ${spellings(flag).join("|")}) ${bashValues(flag.values)}; return ;;`);
    return [
      `    ${command.name})`,
      `      flags="${command.flags.flatMap(spellings).join(" ")} --help"`,
      `      valueflags="${valueFlags.flatMap(spellings).join(" ")}"`,
      `      subcommands="${command.subcommands.join(" ")}"`,
      ...(valueCases.length > 0 ? [`      case $prev in`, ...valueCases, `      esac`] : []),
      `      operands=${command.operands.kind}`,
      `      ;;`,
    ].join("\n");
  });
  return `# opskit completion for bash: source <(opskit completion bash)
_opskit_reply() {
  local IFS=$'\\n'
  COMPREPLY=($1)
}
_opskit_files() {
  compopt -o filenames 2>/dev/null
  _opskit_reply "$(compgen "$1" -- "$cur")"
}
_opskit() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  # COMP_WORDBREAKS splits --flag=value into --flag, =, value.
  if [[ $cur == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-1]}; cur=""; elif [[ $prev == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
  COMPREPLY=()
  if (( COMP_CWORD == 1 )); then
    _opskit_reply "$(compgen -W '${commands.map((command) => command.name).join(" ")} --help --version' -- "$cur")"
    return
  fi
  local flags="" valueflags="" subcommands="" operands=none
  case \${COMP_WORDS[1]} in
${cases.join("\n")}
    *) return ;;
  esac
  if [[ $cur == -* ]]; then
    _opskit_reply "$(compgen -W "$flags" -- "$cur")"
    return
  fi
  local i word given=0
  for (( i = 2; i < COMP_CWORD; i++ )); do
    word=\${COMP_WORDS[i]}
    if [[ $word == -- ]]; then given=1; break; fi
    if [[ " $valueflags " == *" $word "* ]]; then (( i++ )); continue; fi
    [[ $word == -* || $word == = ]] || (( given++ ))
  done
  if [[ -n $subcommands ]] && (( given == 0 )); then
    _opskit_reply "$(compgen -W "$subcommands" -- "$cur")"
    return
  fi
  case $operands in
    files) _opskit_files -f ;;
    dirs) _opskit_files -d ;;
  esac
}
complete -F _opskit opskit
`;
}

const fishQuote = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

function fishValues(values: Values): string {
  switch (values.kind) {
    case "words":
      return ` -x -a ${fishQuote(values.words.join(" "))}`;
    case "files":
      return " -r -F";
    case "dirs":
      return ` -x -a '(__fish_complete_directories)'`;
    case "none":
      return " -x";
  }
}

export function fishScript(commands: readonly CompletedCommand[]): string {
  const lines = [
    "# opskit completion for fish: opskit completion fish > ~/.config/fish/completions/opskit.fish",
    "function __opskit_command --description 'true when the command line is opskit NAME ...'",
    "    set -l tokens (commandline -opc)",
    "    test (count $tokens) -ge 2; and test \"$tokens[2]\" = $argv[1]",
    "end",
    "complete -c opskit -f",
    "complete -c opskit -n '__fish_use_subcommand' -l help -d 'show help'",
    "complete -c opskit -n '__fish_use_subcommand' -l version -d 'print version and git commit'",
  ];
  for (const command of commands) {
    lines.push(`complete -c opskit -n '__fish_use_subcommand' -a ${command.name} -d ${fishQuote(command.description)}`);
    const when = `-n '__opskit_command ${command.name}'`;
    for (const flag of command.flags) {
      const names = `${flag.short ? ` -s ${flag.short.slice(1)}` : ""} -l ${flag.long.slice(2)}`;
      lines.push(`complete -c opskit ${when}${names}${flag.takesValue ? fishValues(flag.values) : ""} -d ${fishQuote(flag.description)}`);
    }
    if (command.subcommands.length > 0) {
      lines.push(`complete -c opskit -n '__opskit_command ${command.name}; and not __fish_seen_subcommand_from ${command.subcommands.join(" ")}' -a ${fishQuote(command.subcommands.join(" "))}`);
    }
    if (command.operands.kind === "files") lines.push(`complete -c opskit ${when} -F`);
  }
  return `${lines.join("\n")}\n`;
}

/** Text inside a single-quoted _arguments spec: [ ] and : are its syntax, ' ends the quote. */
const zshText = (text: string) => text.replaceAll("\\", "\\\\").replaceAll("[", "(").replaceAll("]", ")").replaceAll(":", "\\:").replaceAll("'", "'\\''");

function zshAction(values: Values): string {
  switch (values.kind) {
    case "words":
      return `(${values.words.join(" ")})`;
    case "files":
      return "_files";
    case "dirs":
      return "_path_files -/";
    case "none":
      return " ";
  }
}

function zshFlagSpecs(flag: Flag): string[] {
  const names = spellings(flag);
  const exclusive = flag.repeatable ? "*" : names.length > 1 ? `(${names.join(" ")})` : "";
  const value = flag.takesValue ? `:${zshText(flag.placeholder)}:${zshAction(flag.values)}` : "";
  return names.map((name) => `'${exclusive}${name}${flag.takesValue ? (name.startsWith("--") ? "=" : "+") : ""}[${zshText(flag.description)}]${value}'`);
}

export function zshScript(commands: readonly CompletedCommand[]): string {
  const cases = commands.map((command) => {
    const specs = command.flags.flatMap(zshFlagSpecs);
    if (command.subcommands.length > 0) specs.push(`'1:subcommand:(${command.subcommands.join(" ")})'`, "'*:: :_files'");
    else if (command.operands.kind === "files") specs.push("'*:file:_files'");
    return `    ${command.name})\n      _arguments -s \\\n        ${[...specs, "'--help[show help]'"].join(" \\\n        ")}\n      ;;`;
  });
  return `#compdef opskit
# opskit completion for zsh: opskit completion zsh > "\${fpath[1]}/_opskit", then compinit
_opskit_commands() {
  local -a commands
  commands=(
${commands.map((command) => `    '${command.name}:${command.description.replaceAll("'", "'\\''")}'`).join("\n")}
  )
  _describe -t commands 'opskit command' commands
}
_opskit() {
  local curcontext="$curcontext" state line
  typeset -A opt_args
  _arguments -C '(- *)--version[print version and git commit]' '(- *)--help[show help]' '1: :_opskit_commands' '*:: :->args'
  [[ $state == args ]] || return
  case $words[1] in
${cases.join("\n")}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _opskit "$@"
else
  compdef _opskit opskit
fi
`;
}

const generators = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

/** `opskit completion SHELL`: the script on stdout. */
export async function completionCommand(positionals: string[], specs: readonly CommandSpec[]): Promise<number> {
  const [shell] = positionals;
  if (!(shells as readonly string[]).includes(shell ?? "")) {
    throw usageError("E_USAGE_SHELL", `no completion for shell "${shell}"`, `use one of ${shells.join(", ")}, e.g. source <(opskit completion bash)`);
  }
  console.log(generators[shell as keyof typeof generators](completedCommands(specs)).trimEnd());
  return ExitCode.ok;
}
