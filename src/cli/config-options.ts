import type { LoadedConfig } from "../config/index.ts";
import type { OptionSpec, ParsedOptions } from "./options.ts";

/** `-c, --config PATH` and `--env NAME`, shared by every command that reads opskit.yaml. */
export const configOptions: readonly OptionSpec[] = [
  { key: "config", long: "config", short: "c", value: "path", description: "opskit.yaml, or a directory with opskit.yaml or opskit.d/ (default: the current directory)" },
  { key: "env", long: "env", value: "name", description: "apply this environment overlay from the config" },
];

/** Loads the config that -c/--env name; the config module (YAML, zod) is imported only here. */
export async function loadConfigFromOptions(options: ParsedOptions): Promise<LoadedConfig> {
  const { loadConfig } = await import("../config/index.ts");
  return loadConfig({
    cwd: process.cwd(),
    ...(typeof options.config === "string" ? { path: options.config } : {}),
    ...(typeof options.env === "string" ? { env: options.env } : {}),
  });
}
