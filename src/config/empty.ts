import { effectiveDefaults } from "./defaults.ts";
import type { LoadedConfig } from "./load.ts";
import type { Config } from "./schema.ts";

/**
 * The config of a directory without one, for what works without it (`opskit
 * exec -H` on hosts named on the command line): every section at its default,
 * as an empty opskit.yaml would load.
 */
export async function emptyConfig(baseDir: string): Promise<LoadedConfig> {
  const { configSchema } = await import("./schema.ts");
  const config = configSchema.parse({}) as Config;
  return { config, defaults: effectiveDefaults(config.defaults), files: [], baseDir, where: () => "(no opskit.yaml)" };
}
