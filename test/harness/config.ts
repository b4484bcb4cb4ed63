import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type LoadedConfig } from "../../src/config/index.ts";

/**
 * opskit.yaml (and any files beside it) written to a fresh directory and
 * loaded as opskit loads it: for unit tests of code that takes a LoadedConfig.
 */
export async function loadTestConfig(yaml: string, files: Record<string, string> = {}): Promise<{ dir: string; loaded: LoadedConfig; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "opskit-config-"));
  writeFileSync(join(dir, "opskit.yaml"), yaml);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, loaded: await loadConfig({ cwd: dir }), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
