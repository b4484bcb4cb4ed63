// GET /probe?target=...&module=...: blackbox_exporter's endpoint, answered
// with opskit's probers and the modules opskit.yaml defines (probe-modules.ts).
import type { AppOptions } from "./app.ts";
import { problem } from "./http.ts";
import { ProbeRequestError, probeWithModule } from "./probe-modules.ts";
import type { Route } from "./route.ts";

/** blackbox_exporter's module when ?module= is absent. */
const DEFAULT_MODULE = "http_2xx";

export function probeRoutes(options: Pick<AppOptions, "probeModules">): Route[] {
  return [
    {
      method: "GET",
      pattern: /^\/probe$/,
      endpoint: "probe",
      // A token holder chooses what the server connects to: the API token, never open (see the modules' targets:).
      access: "api",
      handle: async (request) => {
        const params = new URL(request.url).searchParams;
        const modules = options.probeModules;
        const name = params.get("module") || DEFAULT_MODULE;
        const module = modules?.get(name);
        if (!module) {
          const known = [...(modules?.keys() ?? [])];
          return problem(400, "E_PROBE_MODULE", `unknown module "${name}"`, known.length ? `configured modules: ${known.join(", ")}` : "define modules under probeModules: in opskit.yaml");
        }
        const target = params.get("target");
        if (!target) return problem(400, "E_PROBE_TARGET", "the target parameter is missing", "e.g. /probe?target=https://example.com/&module=" + name);
        const header = request.headers.get("x-prometheus-scrape-timeout-seconds");
        const scrapeTimeout = header === null ? undefined : Number(header);
        if (scrapeTimeout !== undefined && !(scrapeTimeout > 0)) return problem(400, "E_PROBE_TIMEOUT", `X-Prometheus-Scrape-Timeout-Seconds "${header}" is not a positive number`);
        try {
          const text = await probeWithModule(module, target, scrapeTimeout, request.signal);
          return new Response(text, { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
        } catch (error) {
          if (error instanceof ProbeRequestError) return problem(400, "E_PROBE_TARGET", error.message, error.hint);
          throw error;
        }
      },
    },
  ];
}
