// `-o text|json|yaml`, the one output flag of every command that prints
// data, and `--json`, kept as its synonym. A command prints JSON lines
// when either asks for JSON; for YAML it prints the same JSON lines and they
// are written as YAML documents, one per line, so the two always agree. The
// yaml package is imported only when YAML is asked for (startup).
import { usageError } from "../errors.ts";
import { defineOptions, type CommandSpec, type OptionTable, type OptionValues } from "./options.ts";

export const outputFormats = ["text", "json", "yaml"] as const;
export type OutputFormat = (typeof outputFormats)[number];

/** `-o, --output text|json|yaml`: spread beside a command's `json` flag. */
export const outputOption = defineOptions({
  output: {
    kind: "choice",
    short: "o",
    choices: outputFormats,
    hint: "e.g. -o json; shapes: docs/output.md",
    description: "output format: text for people, json (one object a line, as --json), yaml (the same objects as YAML documents)",
  },
});

type OutputFlags = { output?: OutputFormat | undefined; json?: boolean };

/** The format -o and --json ask for together; a usage error when they disagree. */
export function outputFormatOf(options: OutputFlags): OutputFormat {
  if (options.json && options.output !== undefined && options.output !== "json") {
    throw usageError("E_USAGE_OUTPUT_CONFLICT", `--json and -o ${options.output} ask for different output`, "give one of them: --json is -o json");
  }
  return options.output ?? (options.json ? "json" : "text");
}

/**
 * Settles a command's output options before its handler runs: `json` true
 * for json and yaml (the command prints JSON lines), `output` the format, and
 * for yaml, stdout rewritten to YAML. Commands without `-o` are left alone.
 */
export async function settleOutput<T extends OptionTable>(table: T, options: OptionValues<T>): Promise<void> {
  if (!("output" in table) || !("json" in table)) return;
  const flags = options as OutputFlags;
  const format = outputFormatOf(flags);
  flags.output = format;
  flags.json = format !== "text";
  if (format === "yaml") await writeStdoutAsYaml();
}

/** A command's handler that runs with its output options settled. */
export function withOutputFormat<T extends OptionTable>(spec: CommandSpec<T>, handler: (positionals: string[], options: OptionValues<T>) => Promise<number>) {
  return async (positionals: string[], options: OptionValues<T>): Promise<number> => {
    await settleOutput(spec.options, options);
    return handler(positionals, options);
  };
}

/**
 * console.log, through which every command prints its data (ui/LineWriter),
 * turned into a YAML stream: each JSON text it is given (a whole text, else
 * each line) becomes one `---` document.
 */
async function writeStdoutAsYaml(): Promise<void> {
  const { stringify } = await import("yaml");
  const log = console.log.bind(console);
  const documentOf = (value: unknown) => `---\n${stringify(value, { lineWidth: 0 }).trimEnd()}`;
  console.log = (...args: unknown[]) => {
    const text = args.map(String).join(" ");
    const whole = parseJson(text);
    if (whole.ok) return log(documentOf(whole.value));
    const documents = text.split("\n").filter((line) => line.trim() !== "").map((line) => {
      const parsed = parseJson(line);
      // Not JSON (a command's note in text): kept as a comment so the stream still parses.
      return parsed.ok ? documentOf(parsed.value) : `# ${line}`;
    });
    if (documents.length > 0) log(documents.join("\n"));
  };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
