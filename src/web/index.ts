// The dashboard served by `opskit serve` at /: static files built by Bun from
// web/app/ (vanilla TypeScript and CSS, no CDN), keyed by URL path. The page
// reads the same bearer-token API as any client; nothing here is server code.

export interface DashboardAsset {
  body: Uint8Array | string;
  /** The Content-Type to serve it with. */
  type: string;
}

let loaded: Promise<ReadonlyMap<string, DashboardAsset>> | undefined;

/**
 * The dashboard's files by URL path ("/", "/assets/app.js",
 * "/assets/app.css", "/favicon.svg"). Loaded on first call, so a server that
 * never serves the page never bundles or holds it.
 */
export function dashboardAssets(): Promise<ReadonlyMap<string, DashboardAsset>> {
  loaded ??= import("./assets.ts").then(({ bundle }) => {
    const files = new Map<string, DashboardAsset>([
      ["/", { body: bundle.html, type: "text/html; charset=utf-8" }],
      ["/assets/app.js", { body: bundle.js, type: "text/javascript; charset=utf-8" }],
      ["/assets/app.css", { body: bundle.css, type: "text/css; charset=utf-8" }],
      ["/favicon.svg", { body: bundle.favicon, type: "image/svg+xml" }],
    ]);
    return files;
  });
  return loaded;
}
