// Bundles the dashboard's browser code and styles with Bun's own bundler. It
// runs as a macro (see assets.ts): at `bun build --compile` the result is
// embedded in the executable, and from source it runs when assets.ts is first
// loaded, so neither path depends on a generated file. Bun.build cannot run
// inside a macro (the bundler would wait on itself), hence the CLI.
import { readFileSync } from "node:fs";

const here = (path: string) => new URL(path, import.meta.url).pathname;

function bunBuild(entry: string): string {
  const result = Bun.spawnSync([process.execPath, "build", here(entry), "--minify", "--target=browser", "--format=esm"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (!result.success) throw new Error(`bundling ${entry} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

export interface DashboardBundle {
  html: string;
  js: string;
  css: string;
  favicon: string;
}

export function bundleDashboard(): DashboardBundle {
  return {
    html: readFileSync(here("./app/index.html"), "utf8"),
    js: bunBuild("./app/main.ts"),
    css: bunBuild("./app/styles.css"),
    favicon: readFileSync(here("./app/favicon.svg"), "utf8"),
  };
}
