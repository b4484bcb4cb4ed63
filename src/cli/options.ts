/**
 * Options are declared once, as data: commander builds help and usage errors
 * from these tables, and the fast path in main.ts parses well-formed command
 * lines from them without loading commander (startup is part of the product).
 */
export interface OptionSpec {
  /** Property name in the parsed options object. */
  key: string;
  long: string;
  short?: string;
  /** Value placeholder; absent for boolean flags. */
  value?: string;
  repeatable?: boolean;
  default?: string;
  description: string;
  hidden?: boolean;
}

export interface CommandSpec {
  name: string;
  description: string;
  argument: { name: string; description: string };
  options: readonly OptionSpec[];
}

export type ParsedOptions = Record<string, string | string[] | boolean | undefined>;

/**
 * Parses argv against a spec. Returns undefined for anything it does not
 * handle plainly (unknown or malformed options, --help) so that commander
 * gives the full usage message.
 */
export function parseFast(argv: readonly string[], spec: CommandSpec): { positionals: string[]; options: ParsedOptions } | undefined {
  const options: ParsedOptions = {};
  for (const option of spec.options) options[option.key] = option.repeatable ? [] : option.default;
  const positionals: string[] = [];
  const byName = new Map<string, OptionSpec>();
  for (const option of spec.options) {
    byName.set(`--${option.long}`, option);
    if (option.short) byName.set(`-${option.short}`, option);
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
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const option = byName.get(name);
    if (!option) return undefined;
    if (option.value === undefined) {
      if (eq > 0) return undefined;
      options[option.key] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) return undefined;
    if (option.repeatable) (options[option.key] as string[]).push(value);
    else options[option.key] = value;
  }
  return { positionals, options };
}
