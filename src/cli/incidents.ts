import { ExitCode, isOpsError, OpsError, usageError } from "../errors.ts";
import type { AttemptRecord, IncidentEventRecord, IncidentRecord } from "../journal/index.ts";
import { milestones } from "../journal/index.ts";
import { formatMs, LineWriter } from "../ui/index.ts";
import type { IncidentReader } from "./incidents-offline.ts";
import { actorName } from "./actor.ts";
import type { ClientOptions, incidentsSpec } from "./incidents-spec.ts";
import type { OptionsOf } from "./options.ts";

/** Where the server is and what its token may be read from: the client options a caller without a command line (the demo) can give too. */
type ServerOptions = Partial<Pick<ClientOptions, "server" | "journal" | "config" | "env">>;

interface IncidentView {
  incident: IncidentRecord;
  attempts: AttemptRecord[];
  events: IncidentEventRecord[];
}

/**
 * The server and its token. URL: --server, $OPSKIT_SERVER, server.listen.
 * Token: $OPSKIT_TOKEN, server.token, then the token opskit serve generated
 * beside the journal (--journal, $OPSKIT_JOURNAL, the state directory).
 */
async function serverUrl(options: ServerOptions, explicitToken?: string): Promise<{ url: string; token: string | undefined }> {
  const { readTokenFile, requireNonEmptyToken, tokenFileFor } = await import("./server-token.ts");
  let url = options.server ?? process.env.OPSKIT_SERVER;
  const env = process.env.OPSKIT_TOKEN;
  let token = explicitToken ?? (env === undefined ? undefined : requireNonEmptyToken(env, "OPSKIT_TOKEN", "env:OPSKIT_TOKEN"));
  let loaded: Awaited<ReturnType<typeof import("./config-options.ts").loadConfigFromOptions>> | undefined;
  if (!url || !token) {
    // The config is optional here: it only supplies defaults.
    loaded = await import("./config-options.ts").then((m) => m.loadConfigFromOptions(options)).catch(() => undefined);
    const server = loaded?.config.server;
    if (!url && server?.listen) url = `http://${server.listen}`;
    if (!token && server?.token) {
      const reference = server.token;
      // A reference this host cannot resolve (another host's env or file) leaves the generated token to try.
      const value = await import("../schema/index.ts").then((m) => m.resolveSecret(reference, "server.token")).catch(() => undefined);
      if (value !== undefined) token = requireNonEmptyToken(value, "server.token", reference);
    }
  }
  if (!token) {
    const { journalLocation } = await import("../journal/index.ts");
    const { configuredJournal } = await import("./journal-options.ts");
    const file = tokenFileFor(journalLocation(options.journal, process.env, configuredJournal(loaded)));
    if (await Bun.file(file).exists()) token = readTokenFile(file);
  }
  return { url: (url ?? "http://127.0.0.1:9797").replace(/\/$/, ""), token };
}

/** Calls the server's API; its error bodies become OpsErrors with the server's hint. */
export async function callServer(options: ServerOptions, method: "GET" | "POST" | "DELETE", path: string, body?: unknown, explicitToken?: string): Promise<unknown> {
  const { url, token } = await serverUrl(options, explicitToken);
  let response: Response;
  try {
    response = await fetch(`${url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new OpsError({ code: "E_SERVER_UNREACHABLE", message: `cannot reach the opskit server at ${url}: ${(error as Error).message}`, hint: "is opskit serve running? pass --server URL or set OPSKIT_SERVER", exitCode: ExitCode.transport });
  }
  return answerOf(response);
}

/** Whether callServer failed because no server answered (refused, unreachable, timed out), not because the server said no. */
export const serverUnreachable = (error: unknown): error is OpsError => isOpsError(error) && error.code === "E_SERVER_UNREACHABLE";

/** An API answer's body; an error answer becomes an OpsError with the server's code and hint. */
export async function answerOf(response: Response): Promise<unknown> {
  const value = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string; hint?: string } };
  if (!response.ok) {
    const error = value.error ?? { code: "E_SERVER", message: `the server answered ${response.status}` };
    throw new OpsError({ code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}), exitCode: response.status >= 500 ? ExitCode.internal : ExitCode.usage });
  }
  return value;
}

const clock = (at: number) => new Date(at).toISOString().replace("T", " ").slice(0, 23);

function printIncident(view: IncidentView, out: LineWriter): void {
  const { incident } = view;
  out.line(`incident ${incident.id}: ${incident.title} · ${incident.status}${incident.resolution ? ` (${incident.resolution})` : ""}${incident.escalated ? " · escalated" : ""}`);
  out.line(`  fingerprint ${incident.fingerprint} · source ${incident.source} · rule ${incident.rule ?? "(none)"} · ${incident.notifications} notifications`);
  out.line(`  labels ${Object.entries(incident.labels).map(([k, v]) => `${k}=${v}`).join(" ")}`);
  // The W3C trace its intake, decisions, attempts and runs share in a collector.
  if (incident.traceId) out.line(`  trace ${incident.traceId}`);
  const started = incident.milestones.started;
  out.line("milestones:");
  for (const name of milestones) {
    const at = incident.milestones[name];
    if (at === undefined) continue;
    out.line(`  ${name.padEnd(20)} ${clock(at)}${started !== undefined ? `  +${formatMs(at - started)}` : ""}`);
  }
  if (view.attempts.length > 0) {
    out.line("attempts:");
    for (const a of view.attempts) out.line(`  ${a.attempt}. ${a.status}${a.runId ? ` run ${a.runId}` : ""}${a.startedAt && a.finishedAt ? ` in ${formatMs(a.finishedAt - a.startedAt)}` : ""}${a.detail ? `: ${a.detail}` : ""}`);
  }
  out.line("timeline:");
  for (const event of view.events) out.line(`  ${clock(event.at)} ${event.kind.padEnd(10)} ${event.message}${event.count > 1 ? ` (×${event.count})` : ""}`);
}

function incidentArg(args: string[], verb: string): number {
  const id = Number(args[1]);
  if (!Number.isInteger(id) || id < 1) throw usageError("E_USAGE_INCIDENT", `incidents ${verb} needs an incident id`, `e.g. opskit incidents ${verb} 12; opskit incidents lists them`);
  return id;
}

/** The server answers pages of at most 500: --limit above that is read page after page, following nextCursor. */
const PAGE_LIMIT = 500;

async function listIncidentPages(options: OptionsOf<typeof incidentsSpec>, reader: IncidentReader): Promise<{ incidents: IncidentRecord[]; total: number }> {
  const incidents: IncidentRecord[] = [];
  let cursor: string | undefined;
  let total = 0;
  do {
    const query = new URLSearchParams({ limit: Math.min(PAGE_LIMIT, options.limit - incidents.length).toString(), ...(options.status !== undefined ? { status: options.status } : {}), ...(cursor ? { cursor } : {}) });
    const page = (await reader.get(`/api/v1/incidents?${query}`)) as { incidents: IncidentRecord[]; total: number; nextCursor?: string };
    incidents.push(...page.incidents);
    total = page.total;
    cursor = page.nextCursor;
  } while (cursor && incidents.length < options.limit);
  return { incidents, total };
}

export async function incidentsCommand(args: string[], options: OptionsOf<typeof incidentsSpec>): Promise<number> {
  const verb = args[0] ?? "list";
  if (verb === "import") return (await import("./incidents-import.ts")).incidentsImportCommand(args.slice(1), options);
  const out = new LineWriter();
  // list and show read the server, else the journal (incidents-offline.ts).
  const reader = verb === "list" || verb === "show" ? await (await import("./incidents-offline.ts")).incidentReader(options) : undefined;
  try {
    if (verb === "list") {
      const value = await listIncidentPages(options, reader!);
      if (options.json) {
        for (const incident of value.incidents) out.line(JSON.stringify(incident));
        return ExitCode.ok;
      }
      out.line(`${"ID".padEnd(6)}${"STATUS".padEnd(10)}${"TITLE".padEnd(24)}${"STARTED".padEnd(25)}${"DURATION".padEnd(10)}${"ATTEMPTS".padEnd(9)}RESOLUTION`);
      for (const i of value.incidents) {
        const end = i.milestones.resolved ?? Date.now();
        const duration = i.milestones.started !== undefined ? formatMs(end - i.milestones.started) : "-";
        out.line(`${String(i.id).padEnd(6)}${i.status.padEnd(10)}${i.title.slice(0, 23).padEnd(24)}${(i.milestones.started ? clock(i.milestones.started) : "-").padEnd(25)}${duration.padEnd(10)}${String(i.attempts).padEnd(9)}${i.escalated ? "escalated · " : ""}${i.resolution ?? ""}`);
      }
      out.line(`${value.incidents.length} of ${value.total} incidents`);
      return ExitCode.ok;
    }
    if (verb === "show" || verb === "ack" || verb === "approve" || verb === "deny" || verb === "resolve") {
      const id = incidentArg(args, verb);
      const view = (verb === "show"
        ? await reader!.get(`/api/v1/incidents/${id}`)
        : await callServer(options, "POST", `/api/v1/incidents/${id}/${verb}`, { by: actorName(options.as), ...(options.note !== undefined ? { note: options.note, reason: options.note } : {}) })) as IncidentView;
      if (options.json) out.line(JSON.stringify(view));
      else printIncident(view, out);
      return ExitCode.ok;
    }
    throw usageError("E_USAGE_INCIDENTS", `unknown incidents command "${verb}"`, "use list, show ID, ack ID, approve ID, resolve ID or import FILE");
  } finally {
    out.flush();
    await reader?.close();
  }
}

export async function pauseCommand(paused: boolean, options: ClientOptions): Promise<number> {
  const value = (await callServer(options, "POST", paused ? "/api/v1/pause" : "/api/v1/resume", { by: actorName(options.as) })) as { paused: boolean; by?: string };
  const by = value.by ? ` by ${value.by}` : "";
  console.log(options.json ? JSON.stringify(value) : value.paused ? `automatic remediation paused${by}: alerts are recorded, nothing runs (opskit resume)` : `automatic remediation resumed${by}`);
  return ExitCode.ok;
}
