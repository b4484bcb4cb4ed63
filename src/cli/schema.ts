import { ExitCode, usageError } from "../errors.ts";
import { defineCommand, type OptionsOf } from "./options.ts";

export const schemaSpec = defineCommand({
  name: "schema",
  description: "print the JSON Schema of opskit.yaml, for editor completion and checks (e.g. # yaml-language-server: $schema=...)",
  argument: { name: "[file]", description: "write the schema to this file instead of stdout" },
  options: {},
});

/** `opskit schema [FILE]`: the JSON Schema generated from the zod schema, the config's single source of truth. */
export async function schemaCommand(positionals: string[], _options: OptionsOf<typeof schemaSpec>): Promise<number> {
  const { configJsonSchema } = await import("../config/index.ts");
  const text = `${JSON.stringify(await configJsonSchema(), null, 2)}\n`;
  const [file] = positionals;
  if (file === undefined || file === "-") {
    console.log(text.trimEnd());
    return ExitCode.ok;
  }
  await Bun.write(file, text).catch((error: Error) => {
    throw usageError("E_USAGE_OUTPUT", `cannot write ${file}: ${error.message}`, "check the directory exists and is writable");
  });
  console.error(`wrote ${file}`);
  return ExitCode.ok;
}
