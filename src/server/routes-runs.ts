// The runs API: pages of runs, one run (whole, or its steps without their
// output, which a 500-target run needs), and a step's whole output as a
// download: what it printed so far while it runs here, the journal's after.
import { runTriggers, type StepPhase } from "../journal/index.ts";
import type { AppOptions } from "./app.ts";
import { apiHeaders, json, problem } from "./http.ts";
import { badParameter, encodeCursor, QueryParams } from "./params.ts";
import { optional, runItems } from "./routes-incidents.ts";
import type { Route } from "./route.ts";

export const RUN_PAGE_MAX = 500;
const RUN_PAGE_DEFAULT = 50;
const phases: readonly StepPhase[] = ["pre", "main", "post", "on_failure", "rollback"];

/** A name for the downloaded file: the run, target and step, in characters every file system takes. */
function fileName(runId: string, target: string, phase: string, index: number, stream: string | undefined): string {
  const safe = (text: string) => text.replace(/[^\w.-]+/g, "_").slice(0, 80);
  return `${safe(runId)}-${safe(target)}-${phase}-${index}${stream ? `-${stream}` : ""}.txt`;
}

const dropped = (cut: { stdout: number; stderr: number }, stream: "stdout" | "stderr" | undefined) => (stream ? cut[stream] : cut.stdout + cut.stderr);

export function runRoutes(options: AppOptions): Route[] {
  const { journal, hub } = options;
  const noRun = (id: string) => problem(404, "E_NOT_FOUND", `no run ${id}`, "GET /api/v1/runs lists them");
  return [
    {
      method: "GET",
      pattern: /^\/api\/v1\/runs$/,
      endpoint: "runs",
      access: "api",
      handle: async (request) => {
        const query = new QueryParams(request.url);
        const filter = {
          ...optional("status", query.oneOf("status", ["running", "succeeded", "failed", "interrupted"] as const)),
          ...optional("workflow", query.text("workflow", 200)),
          ...optional("target", query.text("target", 500)),
          ...optional("trigger", query.oneOf("trigger", runTriggers)),
          ...query.range(),
        };
        const limit = query.limit(RUN_PAGE_MAX, RUN_PAGE_DEFAULT);
        const after = query.cursor("runs", (c) => (typeof c.startedAt === "string" && typeof c.id === "string" ? { startedAt: c.startedAt, id: c.id } : undefined));
        const page = await journal.queryRuns({ ...filter, limit, ...optional("after", after) });
        const last = page.runs.at(-1);
        return json({
          runs: runItems(hub, page.runs),
          total: page.total,
          ...(page.more && last ? { nextCursor: encodeCursor("runs", { startedAt: last.startedAt, id: last.id }) } : {}),
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/runs\/([\w-]+)$/,
      endpoint: "run",
      access: "api",
      handle: async (request, params) => {
        const id = params[0]!;
        const steps = new QueryParams(request.url).oneOf("steps", ["summary", "full"] as const) ?? "full";
        const view = steps === "summary" ? await journal.runSummary(id) : await journal.getRun(id);
        if (!view) return noRun(id);
        return json({ ...view, live: view.run.status === "running" && hub.isLive(id) });
      },
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/runs\/([\w-]+)\/output$/,
      endpoint: "run_output",
      access: "api",
      handle: async (request, params) => {
        const runId = params[0]!;
        const query = new QueryParams(request.url);
        const target = query.text("target", 500);
        if (target === undefined) throw badParameter("target", "target is required", "send target=NAME, the target the step ran on (GET /api/v1/runs/ID lists them)");
        const phase = query.oneOf("phase", phases) ?? "main";
        const index = query.integer("index", 0, 100_000);
        if (index === undefined) throw badParameter("index", "index is required", "send index=N, the step's index in its phase (GET /api/v1/runs/ID?steps=summary lists them)");
        const stream = query.oneOf("stream", ["stdout", "stderr"] as const);
        const live = hub.output.read(runId, target, phase, index);
        const recorded = live ? undefined : await journal.stepOutput(runId, target, phase, index);
        const output = live ?? recorded;
        if (!output) {
          if (!(await journal.getRun(runId))) return noRun(runId);
          return problem(404, "E_NOT_FOUND", `run ${runId} has no output of step ${phase} ${index} on ${target}`, "GET /api/v1/runs/ID?steps=summary lists the steps that ran (a step not started yet has none)");
        }
        const text = stream === "stdout" ? output.stdout : stream === "stderr" ? output.stderr : output.stdout + output.stderr;
        return new Response(text, {
          headers: {
            ...apiHeaders,
            "content-type": "text/plain; charset=utf-8",
            "content-disposition": `attachment; filename="${fileName(runId, target, phase, index, stream)}"`,
            // Where it came from: this server's copy of a step under way (its start cut when over the limit), or the journal's.
            "x-output-source": live ? (live.finished ? "live; finished" : "live; running") : "journal",
            // Characters cut from the front of what is sent (both streams' cuts when both are sent).
            ...(live && dropped(live.dropped, stream) > 0 ? { "x-output-dropped": String(dropped(live.dropped, stream)) } : {}),
          },
        });
      },
    },
  ];
}
