import { resolve } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import { isOpsError } from "../errors.ts";
import { isPostgresUrl, journalLocation } from "../journal/index.ts";
import { configPath, loadConfigFromOptions } from "./config-options.ts";

/** The config's journal: as a location: a URL as it is, a file relative to the config's directory. */
export function configuredJournal(loaded: LoadedConfig | undefined): string | undefined {
  const value = loaded?.config.journal;
  if (!value) return undefined;
  return isPostgresUrl(value) ? value : resolve(loaded.baseDir, value);
}

/** The config that -c (or $OPSKIT_CONFIG) names or the current directory holds; none when there is none to find (and none was named). */
async function configIfAny(options: { config?: string | undefined; env?: string | undefined }): Promise<LoadedConfig | undefined> {
  try {
    return await loadConfigFromOptions(options);
  } catch (error) {
    if (configPath(options) === undefined && isOpsError(error) && error.code === "E_CONFIG_NOT_FOUND") return undefined;
    throw error;
  }
}

/**
 * The journal a command reads or writes: --journal, else $OPSKIT_JOURNAL,
 * else `journal:` in the config (the one the command loaded, else the one
 * -c or the current directory holds, if any), else the default file.
 */
export async function commandJournal(options: { journal?: string | undefined; config?: string | undefined; env?: string | undefined }, loaded?: LoadedConfig): Promise<string> {
  if (options.journal || process.env.OPSKIT_JOURNAL) return journalLocation(options.journal);
  return journalLocation(undefined, process.env, configuredJournal(loaded ?? (await configIfAny(options))));
}
