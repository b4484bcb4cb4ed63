/**
 * Options are declared once, as data. A command's table gives commander its
 * help and usage errors, gives the fast path in main.ts what it parses
 * without loading commander (startup is part of the product), and types the
 * options object the command receives. Both parsers hand what they read to
 * resolveOptions, so a value means the same whichever of them read it.
 */
import { usageError } from "../errors.ts";
import { parseDuration } from "../time/index.ts";

interface Described {
  short?: string;
  description: string;
  hidden?: boolean;
}

/** A flag: true when given. `noX` is commander's negatable `--no-x`, read as given or not. */
export interface FlagSpec extends Described {
  kind: "boolean";
}

/** Text, as typed. */
export interface TextSpec extends Described {
  kind: "string";
  /** Value placeholder in help. */
  value: string;
  default?: string;
}

/** Repeatable text, in the order given. */
export interface ListSpec extends Described {
  kind: "list";
  value: string;
}

/** A whole number from min to max; `or` is a word accepted in its place (`--workers auto`). */
export interface IntegerSpec extends Described {
  kind: "integer";
  value: string;
  default?: string;
  min: number;
  max?: number;
  or?: string;
}

/** A duration such as 5s or 1m30s. */
export interface DurationSpec extends Described {
  kind: "duration";
  value: string;
  default?: string;
}

/** One of a few words; the help placeholder lists them. */
export interface ChoiceSpec extends Described {
  kind: "choice";
  choices: readonly string[];
  default?: string;
  /** Shown under the usage error for a word not in the list. */
  hint?: string;
}

/** A flag counted each time it is given: `-v -v`, `-vv` and `--verbose --verbose` are all 2; 0 when absent. */
export interface CountSpec extends Described {
  kind: "count";
}

export type OptionSpec = FlagSpec | TextSpec | ListSpec | IntegerSpec | DurationSpec | ChoiceSpec | CountSpec;

/** Options by the property name the command reads; the flag is its kebab-case (`retryDelay`: `--retry-delay`). */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** One example under "Examples:" in a command's help: what it does, then the command line. */
export interface Example {
  text: string;
  command: string;
}

export interface CommandSpec<T extends OptionTable = OptionTable> {
  name: string;
  description: string;
  /** commander's argument syntax: `<x>` required, `[x]` optional, `...` variadic. None: the command refuses operands. */
  argument?: { name: string; description: string };
  /** Words its first operand may be (`runs show ID`): shell completion offers them. */
  subcommands?: readonly string[];
  options: T;
  examples: readonly Example[];
}

/** A duration option's value: its text as given (a step's timeout field keeps it) and its length. */
export interface Duration {
  text: string;
  ms: number;
}

type Given<O, T> = O extends { default: string } ? T : T | undefined;

/** The type of one option's value, from its spec: a default makes it always present. */
export type OptionValue<O> = O extends { kind: "boolean" }
  ? boolean
  : O extends { kind: "list" }
    ? string[]
    : O extends { kind: "count" }
      ? number
      : Given<
        O,
        O extends { kind: "integer" }
          ? number | (O extends { or: infer W extends string } ? W : never)
          : O extends { kind: "duration" }
            ? Duration
            : O extends { kind: "choice"; choices: readonly (infer C)[] }
              ? C
              : string
      >;

export type OptionValues<T extends OptionTable> = { -readonly [K in keyof T]: OptionValue<T[K]> };

/** The options object a command's handler receives. */
export type OptionsOf<S extends { options: OptionTable }> = OptionValues<S["options"]>;

/** Keeps a table's literal types (kinds, defaults, choices) so OptionValues can read them. */
export function defineOptions<const T extends OptionTable>(table: T): T {
  return table;
}

export function defineCommand<const T extends OptionTable>(spec: CommandSpec<T>): CommandSpec<T> {
  return spec;
}

/** The same options with each description prefixed, e.g. to say which form of a command they apply to. */
export function describedAs<T extends OptionTable>(table: T, prefix: string): T {
  return Object.fromEntries(Object.entries(table).map(([key, option]) => [key, { ...option, description: `${prefix}${option.description}` }])) as T;
}

/**
 * `retryDelay` → `retry-delay`. Scans rather than replace(/[A-Z]/g, fn), as
 * parseInteger does rather than test a pattern: these run on the fast path,
 * where compiling a pattern or a callback builtin costs startup more.
 */
export function flagName(key: string): string {
  let flag = "";
  for (const c of key) flag += c >= "A" && c <= "Z" ? `-${c.toLowerCase()}` : c;
  return flag;
}

/** The placeholder help shows after the flag; none for a flag. */
export function placeholder(option: OptionSpec): string | undefined {
  if (option.kind === "boolean" || option.kind === "count") return undefined;
  return option.kind === "choice" ? option.choices.join("|") : option.value;
}

/** What a parser read from the command line, by key: only options given there (defaults come from the table). */
export type RawOptions = Readonly<Record<string, string | readonly string[] | boolean | number | undefined>>;

/**
 * The one place an option's text becomes its typed value: defaults applied,
 * numbers, durations and choices checked, each bad value a usage error (64)
 * naming the flag.
 */
export function resolveOptions<T extends OptionTable>(table: T, raw: RawOptions): OptionValues<T> {
  const options: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(table)) options[key] = resolveOption(`--${flagName(key)}`, option, raw[key]);
  return options as OptionValues<T>;
}

function resolveOption(flag: string, option: OptionSpec, given: RawOptions[string]): unknown {
  if (option.kind === "boolean") return given === true;
  if (option.kind === "list") return typeof given === "string" ? [given] : Array.isArray(given) ? [...given] : [];
  if (option.kind === "count") return typeof given === "number" ? given : given === true ? 1 : 0;
  const text = typeof given === "string" ? given : option.default;
  if (text === undefined) return undefined;
  switch (option.kind) {
    case "string":
      return text;
    case "integer":
      return text === option.or ? text : parseInteger(text, flag, option);
    case "duration":
      return { text, ms: parseDuration(text, flag) } satisfies Duration;
    case "choice":
      if (option.choices.includes(text)) return text;
      throw usageError(`E_USAGE_${flag.slice(2).replaceAll("-", "_").toUpperCase()}`, `${flag} "${text}" is not one of ${option.choices.join(", ")}`, option.hint);
  }
}

/** /^-?\d+$/ */
function isWholeNumber(text: string): boolean {
  const start = text.startsWith("-") ? 1 : 0;
  if (text.length === start) return false;
  for (let i = start; i < text.length; i++) if (text[i]! < "0" || text[i]! > "9") return false;
  return true;
}

function parseInteger(text: string, flag: string, option: IntegerSpec): number {
  const value = Number(text);
  if (!isWholeNumber(text) || !Number.isSafeInteger(value) || value < option.min || (option.max !== undefined && value > option.max)) {
    const range = option.max === undefined ? `of ${option.min} or more` : `from ${option.min} to ${option.max}`;
    throw usageError("E_USAGE_OPTION", `invalid ${flag} "${text}"`, `use a whole number ${range}`);
  }
  return value;
}

/**
 * Reads argv against a command's table the way commander does, for command
 * lines in the plain forms (`--flag`, `--name value`, `--name=value`, `-x
 * value`, operands, `--`, a counted flag repeated or grouped: `-vv`). Returns
 * undefined for anything else (unknown options, --help, other grouped short
 * flags, a missing value or operand) so that
 * commander parses it, or prints help or the usage error. A test holds the
 * two to the same result on every command line this one accepts.
 */
export function readArgv(argv: readonly string[], spec: CommandSpec): { positionals: string[]; raw: RawOptions } | undefined {
  const raw: Record<string, string | string[] | true | number> = {};
  const lists: Record<string, string[]> = {};
  const counts: Record<string, number> = {};
  const positionals: string[] = [];
  const byFlag = new Map<string, [string, OptionSpec]>();
  for (const [key, option] of Object.entries(spec.options)) {
    byFlag.set(`--${flagName(key)}`, [key, option]);
    if (option.short) byFlag.set(`-${option.short}`, [key, option]);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const found = byFlag.get(eq > 0 ? arg.slice(0, eq) : arg);
    const grouped = found ? undefined : groupedCount(arg, byFlag);
    if (grouped) {
      raw[grouped.key] = counts[grouped.key] = (counts[grouped.key] ?? 0) + grouped.times;
      continue;
    }
    if (!found) return undefined;
    const [key, option] = found;
    if (option.kind === "count") {
      if (eq > 0) return undefined;
      raw[key] = counts[key] = (counts[key] ?? 0) + 1;
      continue;
    }
    if (option.kind === "boolean") {
      if (eq > 0) return undefined;
      raw[key] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) return undefined;
    if (option.kind === "list") (lists[key] ??= []).push(value);
    raw[key] = option.kind === "list" ? lists[key]! : value;
  }
  if (!spec.argument) return positionals.length > 0 ? undefined : { positionals, raw };
  const { name } = spec.argument;
  if (name.startsWith("<") && positionals.length === 0) return undefined;
  if (!name.includes("...") && positionals.length > 1) return undefined;
  return { positionals, raw };
}

/** `-vvv`: one counted short flag given several times in one word. */
function groupedCount(arg: string, byFlag: ReadonlyMap<string, [string, OptionSpec]>): { key: string; times: number } | undefined {
  if (arg.length < 3 || arg[1] === "-") return undefined;
  const found = byFlag.get(arg.slice(0, 2));
  if (!found || found[1].kind !== "count") return undefined;
  for (let i = 2; i < arg.length; i++) if (arg[i] !== arg[1]) return undefined;
  return { key: found[0], times: arg.length - 1 };
}

/** The fast path: argv read and resolved from the table, or undefined when commander must parse it. */
export function parseCommandLine<T extends OptionTable>(argv: readonly string[], spec: CommandSpec<T>): { positionals: string[]; options: OptionValues<T> } | undefined {
  const read = readArgv(argv, spec);
  return read && { positionals: read.positionals, options: resolveOptions(spec.options, read.raw) };
}
