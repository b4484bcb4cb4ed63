import type { LoadedConfig, LoadOptions } from "../config/index.ts";
import { defineOptions } from "./options.ts";

/** `-c, --config PATH` and `--env NAME`, shared by every command that reads opskit.yaml. */
export const configOptions = defineOptions({
  config: { kind: "string", short: "c", value: "path", description: "opskit.yaml, or a directory with opskit.yaml or opskit.d/ (default: $OPSKIT_CONFIG, else the current directory)" },
  env: { kind: "string", value: "name", description: "apply this environment overlay from the config" },
});

type ConfigFlags = { config?: string | undefined; env?: string | undefined };

/** The config -c names, else $OPSKIT_CONFIG; undefined: look in the current directory. */
export function configPath(options: ConfigFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return options.config ?? (env.OPSKIT_CONFIG || undefined);
}

/** Where -c (or $OPSKIT_CONFIG) and --env say the config is, from the current directory. */
export const configLoadOptions = (options: ConfigFlags): LoadOptions => {
  const path = configPath(options);
  return {
    cwd: process.cwd(),
    ...(path !== undefined ? { path } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  };
};

/** Loads the config that -c/--env name; the config module (YAML, zod) is imported only here. */
export async function loadConfigFromOptions(options: ConfigFlags): Promise<LoadedConfig> {
  const { loadConfig } = await import("../config/index.ts");
  return loadConfig(configLoadOptions(options));
}

/**
 * For what works without a config (`opskit exec -H`): the config -c,
 * $OPSKIT_CONFIG or --env name, else the current directory's, else none
 * (every section at its default). One named and not there is still an error.
 */
export async function loadConfigIfAny(options: ConfigFlags): Promise<LoadedConfig> {
  const { emptyConfig, loadConfig } = await import("../config/index.ts");
  try {
    return await loadConfig(configLoadOptions(options));
  } catch (error) {
    const { isOpsError } = await import("../errors.ts");
    if (configPath(options) !== undefined || options.env !== undefined || !isOpsError(error) || error.code !== "E_CONFIG_NOT_FOUND") throw error;
    return emptyConfig(process.cwd());
  }
}
