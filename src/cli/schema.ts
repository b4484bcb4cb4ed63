import { ExitCode, usageError } from "../errors.ts";
import { defineCommand, type OptionsOf } from "./options.ts";

export const schemaSpec = defineCommand({
  name: "schema",
  description: "print the JSON Schema of opskit.yaml, for editor completion and checks (e.g. # yaml-language-server: $schema=...)",
  argument: { name: "[file]", description: "write the schema to this file instead of stdout" },
  options: {},
  examples: [
    { text: "Completion and checks in editors", command: "opskit schema opskit.schema.json  # then: # yaml-language-server: $schema=opskit.schema.json" },
  ],
});

/** `opskit schema [FILE]`: the JSON Schema generated from the zod schema, the config's single source of truth. */
export async function schemaCommand(positionals: string[], _options: OptionsOf<typeof schemaSpec>): Promise<number> {
  const { configJsonSchema } = await import("../config/index.ts");
  const schema = await configJsonSchema();
  await addAgentSources(schema);
  const text = `${JSON.stringify(schema, null, 2)}\n`;
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

/**
 * agent.sources' entries as the agent's registry declares them: each source
 * kind's part sits with its code above config, so the config's own schema
 * holds only a name per entry and the kinds are added here.
 */
async function addAgentSources(schema: Record<string, unknown>): Promise<void> {
  type Node = { properties?: Record<string, Node>; items?: unknown; anyOf?: Node[] };
  const agent = (schema as Node).properties?.agent;
  const sources = (agent?.properties ? agent : agent?.anyOf?.find((branch) => branch.properties))?.properties?.sources;
  if (!sources) return;
  const { agentSourceJsonSchema } = await import("../agent/index.ts");
  sources.items = await agentSourceJsonSchema();
}
