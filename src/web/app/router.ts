// Hash routes: #/, #/checks, #/incidents/:id, #/runs/:id, #/history, #/mttr.
// The hash keeps the page static (one index.html) and every view linkable.

export interface Route {
  name: string;
  params: string[];
  query: URLSearchParams;
}

const patterns: [string, RegExp][] = [
  ["now", /^\/?$/],
  ["checks", /^\/checks$/],
  ["incident", /^\/incidents\/(\d+)$/],
  ["run", /^\/runs\/([\w.-]+)$/],
  ["history", /^\/history$/],
  ["mttr", /^\/mttr$/],
];

/** The route a hash names; "notfound" when none matches. A hash not starting with #/ (an in-page anchor) is not a route. */
export function parseRoute(hash: string): Route | undefined {
  if (hash !== "" && hash !== "#" && !hash.startsWith("#/")) return undefined;
  const raw = hash.replace(/^#/, "");
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  for (const [name, pattern] of patterns) {
    const match = pattern.exec(path);
    if (match) return { name, params: match.slice(1).map((p) => decodeURIComponent(p)), query };
  }
  return { name: "notfound", params: [path], query };
}

export function incidentRoute(id: number): string {
  return `#/incidents/${id}`;
}

export function runRoute(id: string): string {
  return `#/runs/${encodeURIComponent(id)}`;
}
